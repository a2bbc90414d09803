from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, strategies as st

from classicfy.evaluation.metrics import ModelEvaluator, per_class_f1, recording_probabilities


def test_metrics_match_a_hand_computed_case():
    # true 0 0 1 1 2 2, predicted 0 1 1 1 2 0
    probs = np.array(
        [[0.8, 0.1, 0.1], [0.3, 0.6, 0.1], [0.1, 0.8, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.5, 0.2, 0.3]]
    )
    m = ModelEvaluator(["a", "b", "c"]).metrics(np.array([0, 0, 1, 1, 2, 2]), probs)
    assert m.accuracy == pytest.approx(4 / 6)
    assert m.balanced_accuracy == pytest.approx((0.5 + 1 + 0.5) / 3)
    # precision a 1/2, b 2/3, c 1; recall a 1/2, b 1, c 1/2; F1 a 1/2, b 4/5, c 2/3
    assert m.macro_precision == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert m.macro_recall == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    assert m.macro_f1 == pytest.approx((1 / 2 + 4 / 5 + 2 / 3) / 3)
    assert m.weighted_f1 == pytest.approx(m.macro_f1)  # equal supports
    assert m.confusion_matrix == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m.log_loss == pytest.approx(-np.mean(np.log([0.8, 0.3, 0.8, 0.7, 0.8, 0.3])), rel=1e-4)
    assert m.per_class["a"].f1 == pytest.approx(0.5)
    assert m.n == 6


def test_macro_averages_skip_classes_absent_from_the_scored_set():
    """Perfect answers on 2 of 5 labels (e.g. `evaluate --data` on a subset) are a macro-F1 of 1."""
    probs = np.eye(5)[[0, 0, 3, 3]] * 0.9 + 0.02
    m = ModelEvaluator(list("abcde")).metrics(np.array([0, 0, 3, 3]), probs)
    assert m.accuracy == 1.0
    assert m.macro_f1 == m.macro_precision == m.macro_recall == 1.0
    wrong = ModelEvaluator(list("abcde")).metrics(np.array([0, 0, 3, 3]), np.eye(5)[[0, 1, 3, 3]])
    assert wrong.macro_f1 == pytest.approx((2 / 3 + 0 + 1) / 3)  # a wrongly predicted class does count


def test_binary_problems_are_scored_too():
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.6, 0.4]])
    m = ModelEvaluator(["x", "y"]).metrics(np.array([0, 0, 1, 1]), probs)
    assert m.accuracy == pytest.approx(0.5)
    assert m.roc_auc_ovr_macro == pytest.approx(0.75)  # y scores: pos .7,.4 vs neg .1,.6 -> 3 of 4 pairs


def test_recording_probabilities_are_a_renormalised_geometric_mean():
    probs, ids = recording_probabilities(np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]]), np.array([7, 7, 3]))
    assert ids.tolist() == [3, 7]
    np.testing.assert_allclose(probs[1], np.array([np.sqrt(0.18), np.sqrt(0.08)]) / (np.sqrt(0.18) + np.sqrt(0.08)))
    np.testing.assert_allclose(probs[0], [0.5, 0.5])


def test_bootstrap_interval_contains_the_estimate_and_is_seeded():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 60)
    probs = np.eye(3)[np.where(rng.random(60) < 0.7, y, (y + 1) % 3)]
    evaluator = ModelEvaluator(["a", "b", "c"], n_bootstrap=300, seed=1)
    ci = evaluator.bootstrap(y, probs)
    accuracy = np.mean(probs.argmax(1) == y)
    assert ci["accuracy_ci"][0] <= accuracy <= ci["accuracy_ci"][1]
    assert ci == ModelEvaluator(["a", "b", "c"], n_bootstrap=300, seed=1).bootstrap(y, probs)


def test_intervals_resample_works_unless_a_class_has_only_one():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    probs = np.eye(2)[[0, 1, 0, 0, 1, 1, 0, 1]]
    evaluator = ModelEvaluator(["a", "b"], n_bootstrap=200, seed=0)
    one_work_each = np.array(["w1"] * 4 + ["w2"] * 4)
    low, high = evaluator.bootstrap(y, probs, one_work_each)["accuracy_ci"]
    assert low < high  # drawn by recording: one work a class would be drawn whole every time
    two_works_each = np.array(["w1", "w1", "w3", "w3", "w2", "w2", "w4", "w4"])
    by_work = evaluator.bootstrap(y, probs, two_works_each)["accuracy_ci"]
    assert by_work != (low, high)  # drawn by work: the wrong answers come and go in pairs


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=40))
def test_per_class_f1_is_scikit_learns(pairs):
    from sklearn.metrics import f1_score

    y_true, predicted = (np.array(column) for column in zip(*pairs, strict=True))
    expected = f1_score(y_true, predicted, labels=range(4), average=None, zero_division=0)
    np.testing.assert_allclose(per_class_f1(y_true, predicted, 4), expected)


def test_each_class_gets_an_f1_interval_at_recording_level():
    """The report's per-class F1 with intervals: every class's interval holds its F1, and a class
    named perfectly has nothing to vary."""
    rng = np.random.default_rng(3)
    recording_of = np.repeat(np.arange(30), 4)
    y_recording = np.arange(30) % 3
    answer = np.where((np.arange(30) % 3 == 0) | (rng.random(30) < 0.6), y_recording, (y_recording + 1) % 3)
    window_probs = np.eye(3)[np.repeat(answer, 4)] * 0.9 + 0.1 / 3
    works = np.repeat(np.arange(30) // 2, 4)  # two recordings a work
    metrics = ModelEvaluator(["a", "b", "c"], n_bootstrap=300).evaluate(
        window_probs, np.repeat(y_recording, 4), recording_of, works
    )
    for label, scores in metrics.recording.per_class.items():
        low, high = scores.f1_ci
        assert low <= scores.f1 <= high, label
    assert metrics.recording.per_class["a"].f1_ci[0] < 1.0  # always right on a, but c's misses are named a
    assert metrics.segment.per_class["a"].f1_ci is None  # windows are not independent: no interval
    written = json.loads(json.dumps(metrics.to_dict()))  # as metrics.json holds it
    assert written["recording"]["per_class"]["c"]["f1_ci"] == list(metrics.recording.per_class["c"].f1_ci)
