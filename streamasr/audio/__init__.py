"""Where samples come from: files, microphones, resampling to the model's 16 kHz."""
