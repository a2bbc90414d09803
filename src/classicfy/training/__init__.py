"""Training: the run pipeline, the trainer loop, balancing, batch augmentation, checkpoints, recipes."""
