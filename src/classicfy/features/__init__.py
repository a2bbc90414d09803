"""Audio in, model inputs out: decoding and windowing, waveform augmentation, spectral and musicnn features, the cache, parallel extraction, model-input sets."""
