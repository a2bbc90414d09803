"""How much tempo and note timing alone tell the composers of a dataset apart: a shortcut to close.

    python bench/tempo_shortcut.py [--data builtin:composers] [--folds 4]

Each recording becomes a few numbers that know nothing of pitch or harmony: its estimated tempo,
onsets per second, the median and spread of the intervals between onsets, and where its length
falls on a half-second grid (before corpus v2, scores without a tempo mark rendered at music21's
120 bpm, so their lengths fell on that grid). A class-balanced logistic regression on them is cross-validated with
folds grouped by work, as `classicfy crossval` deals them. Near chance (1/labels) means the corpus
carries no timing shortcut; well above it means a model could name composers by tempo alone.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from classicfy.data.builtin import resolve_dataset
from classicfy.data.manifest import list_dataset
from classicfy.evaluation.metrics import macro_f1
from classicfy.features.audio import decode, resample
from classicfy.workspace import Workspace

RATE = 22050
FEATURES = ("tempo_bpm", "onsets_per_s", "ioi_median_s", "ioi_spread", "length_on_half_second_grid")


def timing_features(path: str) -> list[float]:
    """Tempo and onset statistics of one recording, and how close its length is to a multiple of 0.5 s."""
    import librosa

    samples, rate = decode(path)
    samples = resample(samples, rate, RATE)
    envelope = librosa.onset.onset_strength(y=samples, sr=RATE)
    tempo = float(np.atleast_1d(librosa.feature.tempo(onset_envelope=envelope, sr=RATE))[0])
    onsets = librosa.onset.onset_detect(onset_envelope=envelope, sr=RATE, units="time")
    seconds = len(samples) / RATE
    intervals = np.diff(onsets) if len(onsets) > 1 else np.array([seconds])
    off_grid = abs(seconds / 0.5 - round(seconds / 0.5))  # 0 on the grid, 0.5 half-way between
    spread = float(np.std(intervals) / max(np.median(intervals), 1e-3))
    return [tempo, len(onsets) / seconds, float(np.median(intervals)), spread, off_grid]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="builtin:composers", help="dataset (default: %(default)s)")
    parser.add_argument("--folds", type=int, default=4, help="folds grouped by work (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="fold seed (default: %(default)s)")
    args = parser.parse_args()
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    recordings = list_dataset(resolve_dataset(args.data, Workspace.create(progress=False)))
    x = np.array([timing_features(str(r.path)) for r in recordings])
    labels = sorted({r.label for r in recordings})
    y = np.array([labels.index(r.label) for r in recordings])
    groups = [r.group for r in recordings]
    model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=2000))
    folds = StratifiedGroupKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
    rows = {}
    for name, columns in [
        ("all timing features", list(range(len(FEATURES)))),
        *((f, [i]) for i, f in enumerate(FEATURES)),
    ]:
        predicted = cross_val_predict(model, x[:, columns], y, groups=groups, cv=folds)
        rows[name] = {
            "macro_f1": macro_f1(y, predicted, len(labels)),
            "accuracy": float(accuracy_score(y, predicted)),
        }
    title = f"timing features ({args.data}, {len(recordings)} recordings, {args.folds} folds by work)"
    print(f"| {title} | recording macro-F1 | accuracy |")
    print("|---|---:|---:|")
    print(f"| chance (1/{len(labels)}) | {1 / len(labels):.3f} | {1 / len(labels):.3f} |")
    for name, row in rows.items():
        print(f"| {name} | {row['macro_f1']:.3f} | {row['accuracy']:.3f} |")
    per_label = {label: x[y == i].mean(axis=0).round(3).tolist() for i, label in enumerate(labels)}
    print("\nmean per label (" + ", ".join(FEATURES) + "):\n" + json.dumps(per_label, indent=1))


if __name__ == "__main__":
    main()
