from __future__ import annotations

import json

import numpy as np
import pytest

from classicfy.evaluation.ensemble import EnsembleModel


def test_ensemble_weights_favour_the_better_member_and_round_trip(tmp_path):
    y = np.array([0, 1, 0, 1, 1, 0])
    good = np.eye(2)[y] * 0.8 + 0.1
    bad = np.full((6, 2), 0.5)
    ensemble = EnsembleModel(["good", "bad"]).fit({"good": good, "bad": bad}, y)
    assert ensemble.weights[0] > 0.9
    loaded = EnsembleModel.from_dict(json.loads(json.dumps(ensemble.to_dict())))
    np.testing.assert_allclose(
        loaded.predict_proba({"good": good, "bad": bad}), ensemble.predict_proba({"good": good, "bad": bad})
    )
    assert EnsembleModel(["a", "b"]).predict_proba({"a": good, "b": bad}) == pytest.approx((good + bad) / 2)


def test_part_of_an_ensemble_keeps_its_members_weights_renormalised():
    ensemble = EnsembleModel(["a", "b", "c"], [0.5, 0.3, 0.2])
    part = ensemble.part(["a", "c"])
    assert part is not None and part.members == ["a", "c"]
    np.testing.assert_allclose(part.weights, [0.5 / 0.7, 0.2 / 0.7])
    assert ensemble.part(["d"]) is None


def test_the_default_ensemble_gives_recording_models_as_much_weight_as_window_models():
    ensemble = EnsembleModel.balanced(["cnn", "gru", "vgg", "vgg-probe"], {"vgg-probe"})
    np.testing.assert_allclose(ensemble.weights, [1 / 6, 1 / 6, 1 / 6, 0.5])
    assert not ensemble.plain and not ensemble.fitted
    window_members = ensemble.part(["cnn", "gru", "vgg"])
    assert window_members is not None and window_members.plain  # windows are still scored by a plain mix
    assert EnsembleModel.balanced(["cnn", "gru"], {"vgg-probe"}).plain
    assert EnsembleModel.balanced(["vgg-probe"], {"vgg-probe"}).plain
    loaded = EnsembleModel.from_dict(json.loads(json.dumps(ensemble.to_dict())))
    np.testing.assert_allclose(loaded.weights, ensemble.weights)
