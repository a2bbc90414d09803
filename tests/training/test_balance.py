from __future__ import annotations

import numpy as np
import pytest

from classicfy.training.balance import DataBalancer, at_most_per_class

LABELS = np.array([0] * 10 + [1] * 3 + [2] * 5)


def test_oversampling_gives_every_class_as_many_windows_as_the_largest():
    indices = DataBalancer("oversample").fit(LABELS).epoch_indices(np.random.default_rng(0))
    assert np.bincount(LABELS[indices]).tolist() == [10, 10, 10]
    assert set(indices) == set(range(len(LABELS)))  # every original window is drawn


def test_weights_keep_each_window_once_and_weigh_classes_inversely():
    balancer = DataBalancer("weights").fit(LABELS)
    indices = balancer.epoch_indices(np.random.default_rng(0))
    assert sorted(indices) == list(range(len(LABELS)))
    weights = balancer.loss_weights()
    assert weights.mean() == pytest.approx(1.0)
    np.testing.assert_allclose(weights * np.bincount(LABELS), (weights * np.bincount(LABELS))[0])


def test_none_draws_each_window_once_in_a_seeded_order():
    balancer = DataBalancer("none").fit(LABELS)
    first = balancer.epoch_indices(np.random.default_rng(1))
    assert sorted(first) == list(range(len(LABELS)))
    np.testing.assert_array_equal(first, balancer.epoch_indices(np.random.default_rng(1)))
    assert balancer.loss_weights() is None


def test_a_class_missing_from_training_is_ignored():
    balancer = DataBalancer("oversample").fit(np.array([0, 0, 2]), n_classes=3)
    indices = balancer.epoch_indices(np.random.default_rng(0))
    assert np.bincount(np.array([0, 0, 2])[indices], minlength=3).tolist() == [2, 0, 2]


def test_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="strategy"):
        DataBalancer("undersample")


def test_a_cap_bounds_each_class_and_draws_a_fresh_subset_each_epoch():
    balancer = DataBalancer("oversample", max_per_class=4).fit(LABELS)
    first = balancer.epoch_indices(np.random.default_rng(0))
    second = balancer.epoch_indices(np.random.default_rng(1))
    assert np.bincount(LABELS[first]).tolist() == [4, 4, 4]
    assert len(set(first[LABELS[first] == 0])) == 4  # a larger class is subsampled, not repeated
    assert set(first[LABELS[first] == 0]) != set(second[LABELS[second] == 0])
    weighted = DataBalancer("weights", max_per_class=4).fit(LABELS).epoch_indices(np.random.default_rng(0))
    assert np.bincount(LABELS[weighted]).tolist() == [4, 3, 4]


def test_weights_follow_what_a_capped_epoch_holds():
    labels = np.array([0] * 3000 + [1] * 100)
    balancer = DataBalancer("weights", max_per_class=300).fit(labels)
    epoch = balancer.epoch_indices(np.random.default_rng(0))
    counts = np.bincount(labels[epoch])
    assert counts.tolist() == [300, 100]
    total = balancer.loss_weights() * counts  # each class's share of the loss in an epoch
    assert total[0] == pytest.approx(total[1])


def test_at_most_per_class_caps_the_large_classes_and_keeps_the_small_whole():
    labels = np.array([0] * 10 + [1] * 3 + [2] * 6)
    chosen = at_most_per_class(labels, 4, np.random.default_rng(0))
    assert np.bincount(labels[chosen]).tolist() == [4, 3, 4]
    assert np.all(np.diff(chosen) > 0)  # sorted, no repeats
    assert np.array_equal(chosen, at_most_per_class(labels, 4, np.random.default_rng(0)))
    assert np.array_equal(at_most_per_class(labels, None, np.random.default_rng(0)), np.arange(len(labels)))


def test_oversampling_draws_every_class_with_the_same_share_of_copies():
    # Class 0: 12 originals, 12 copies; class 1, a small class given more copies: 3 originals, 9 copies.
    labels = np.array([0] * 24 + [1] * 12)
    augmented = np.array([False] * 12 + [True] * 12 + [False] * 3 + [True] * 9)
    for cap in (None, 12):
        balancer = DataBalancer("oversample", max_per_class=cap).fit(labels, augmented=augmented)
        assert balancer.copy_share_ == 0.75  # the most any class has
        epoch = balancer.epoch_indices(np.random.default_rng(0))
        for label in (0, 1):
            drawn = epoch[labels[epoch] == label]
            assert len(drawn) == (cap or 24) and augmented[drawn].mean() == 0.75, (cap, label)
    plain = DataBalancer("oversample").fit(labels).epoch_indices(np.random.default_rng(0))
    assert augmented[plain[labels[plain] == 0]].mean() == 0.5  # without the flags, each class as it comes


def test_at_most_per_class_shares_the_cap_between_originals_and_copies():
    labels = np.array([0] * 20 + [1] * 4)
    augmented = np.array([False] * 10 + [True] * 10 + [False] * 1 + [True] * 3)
    chosen = at_most_per_class(labels, 8, np.random.default_rng(0), augmented)
    assert np.bincount(labels[chosen]).tolist() == [8, 4]
    assert augmented[chosen[labels[chosen] == 0]].sum() == 6  # class 1's share of copies, 3 in 4


def test_without_copy_flags_the_draws_are_those_earlier_runs_made():
    # Indices drawn by the balancer before copies could be balanced: runs trained then train the same now.
    capped = DataBalancer("oversample", max_per_class=4).fit(LABELS).epoch_indices(np.random.default_rng(0))
    assert capped.tolist() == [10, 15, 12, 5, 11, 4, 7, 16, 13, 2, 17, 12]
    whole = DataBalancer("oversample").fit(LABELS).epoch_indices(np.random.default_rng(0))
    assert whole.tolist()[:10] == [4, 16, 10, 17, 2, 3, 11, 16, 11, 17]
