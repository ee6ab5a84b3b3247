"""Making a model: corpora, training and evaluation. The runtime (streamasr/) never imports this."""
