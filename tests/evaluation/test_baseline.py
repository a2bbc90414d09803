from __future__ import annotations

import json

import numpy as np

from classicfy.evaluation.baseline import C_GRID, SummaryBaseline
from classicfy.rundir import RunFolder
from classicfy.workspace import Workspace


def test_baseline_round_trips_through_json(trained, tmp_path):
    from classicfy.evaluation.pipeline import _Features

    _, run, cache = trained
    config = RunFolder(run).read_config()
    recordings = [r for r in RunFolder(run).read_split() if r.split == "test"]
    windows = _Features(recordings, {config.features}, Workspace(cache, 1, False)).windows(
        config.features, "sequence", {"high": 0, "low": 1, "mid": 2}
    )
    baseline = SummaryBaseline.from_dict(json.loads((run / "models" / "baseline.json").read_text()))
    assert baseline.c in C_GRID  # chosen on the validation side
    probs = baseline.predict_proba(windows)
    assert probs.shape == (len(windows), 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
