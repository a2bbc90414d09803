"""Online augmentation of training batches, on feature tensors: SpecAugment masking and mixup.

Both draw from a seeded `torch.Generator` passed in, never from global state, so an epoch is reproducible.
"""

from __future__ import annotations

import numpy as np
import torch


def spec_augment(batch, generator, max_time_fraction: float = 0.1, max_freq_fraction: float = 0.15, masks: int = 2):
    """Mask random bands of frequency and spans of time in a batch of (B, C, F, T) features, in place.

    Masked cells get the batch mean, not zero, so standardised and raw inputs both stay in range.
    """
    _, _, n_freq, n_time = batch.shape
    fill = batch.mean()
    for axis, size, fraction in ((2, n_freq, max_freq_fraction), (3, n_time, max_time_fraction)):
        for _ in range(masks):
            width = torch.randint(0, max(1, int(size * fraction)) + 1, (batch.shape[0],), generator=generator)
            start = (torch.rand(batch.shape[0], generator=generator) * (size - width)).long()
            positions = torch.arange(size).view(1, -1)
            mask = (positions >= start.view(-1, 1)) & (positions < (start + width).view(-1, 1))
            shape = [batch.shape[0], 1, 1, 1]
            shape[axis] = size
            batch.masked_fill_(mask.view(shape), fill)
    return batch


def mixup(inputs, targets, alpha: float, generator):
    """Blend each example with another of the batch (Zhang et al., 2018); targets are one-hot."""
    if alpha <= 0:
        return inputs, targets
    lam = float(np.random.default_rng(int(torch.randint(0, 2**31, (1,), generator=generator))).beta(alpha, alpha))
    order = torch.randperm(inputs.shape[0], generator=generator)
    return lam * inputs + (1 - lam) * inputs[order], lam * targets + (1 - lam) * targets[order]
