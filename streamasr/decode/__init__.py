"""Log-probabilities -> words: streaming CTC decoding and endpointing."""
