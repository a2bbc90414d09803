from __future__ import annotations

import torch

from classicfy.training.batch_augment import mixup, spec_augment


def test_spec_augment_masks_bands_and_spans_but_keeps_the_shape():
    batch = torch.arange(2 * 96 * 100, dtype=torch.float32).reshape(2, 1, 96, 100)
    original = batch.clone()
    spec_augment(batch, torch.Generator().manual_seed(3), max_time_fraction=0.2, max_freq_fraction=0.2)
    assert batch.shape == original.shape
    changed = batch != original
    assert changed.any()
    assert changed.float().mean() < 0.5


def test_mixup_blends_inputs_and_targets_alike():
    inputs = torch.eye(4).view(4, 1, 1, 4)
    targets = torch.eye(4)
    mixed, soft = mixup(inputs, targets, 0.4, torch.Generator().manual_seed(0))
    torch.testing.assert_close(soft.sum(dim=1), torch.ones(4))
    torch.testing.assert_close(mixed.view(4, 4), soft)
