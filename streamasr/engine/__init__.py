"""Composition of audio, features, model and decoder into recognizers of one or many streams."""
