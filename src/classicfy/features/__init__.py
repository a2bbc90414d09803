"""Audio in, model inputs out.

Decoding and windowing, waveform augmentation, spectral and musicnn features, the content-hash
cache, parallel extraction, and the model-input sets that training and prediction read.
"""
