"""The synthetic training corpus: packaged English text, spoken by every installed TTS voice.

Modules, one job each: `normalize` (text to the model alphabet), `text` (sentences from Debian
packages), `voices` (TTS engines as voice settings), `augment` (waveform perturbations),
`manifest` (JSONL records), `synth` (the parallel, resumable generator), `loaders` (real corpora
in LibriSpeech / Common Voice layout). `python -m train.corpus --help` runs the generator.
"""
