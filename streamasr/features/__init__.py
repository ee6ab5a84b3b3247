"""Samples -> feature frames: chunked MFCC / log-mel and streaming-safe normalisation."""
