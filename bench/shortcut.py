"""Does a trained run take audio processing for a composer? A probe for an augmentation shortcut.

    python bench/shortcut.py RUN [--semitones -1 2] [--seconds 60] [--side test] [--models ensemble,vgg-pretrained]

Training copies are pitch-shifted and time-stretched; with `fill_to` the small classes get more. If a
class's windows are more often processed than another's, "sounds processed" becomes a cue for it,
and the unprocessed recordings a run is asked about lean towards the large classes. This probe
shifts the first `--seconds` of each recording of the run's test side by a semitone or two
(librosa's phase vocoder) - a change no composer label should follow - and prints, per model and
shift, how many recordings change answer and how much each class's recording probability moves
on average.
A run free of the shortcut changes few answers and moves no class consistently.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import librosa
import numpy as np

from classicfy.features.audio import decode
from classicfy.models.trained import trained_model_names
from classicfy.predict import Classifier
from classicfy.rundir import RunFolder


def probe(run: Path, semitones: list[float], seconds: float, side: str, models: list[str]) -> dict:
    """Recording probabilities of each model for the start of each recording of a side, unshifted and shifted."""
    labels = json.loads((run / "labels.json").read_text())
    paths = [r.path for r in RunFolder(run).read_split() if r.split == side]
    classifiers = {name: Classifier.load(run, name) for name in models}
    shifts = [0.0, *semitones]
    probs = {name: np.zeros((len(shifts), len(paths), len(labels))) for name in classifiers}
    for p, path in enumerate(paths):
        samples, rate = decode(path)
        samples = samples[: int(seconds * rate)]
        for s, shift in enumerate(shifts):
            shifted = samples if shift == 0 else librosa.effects.pitch_shift(samples, sr=rate, n_steps=shift)
            for name, classifier in classifiers.items():
                probs[name][s, p] = classifier.predict_proba(shifted, rate)
        print(f"{p + 1}/{len(paths)} {path.name}", file=sys.stderr, flush=True)
    return {"labels": labels, "shifts": shifts, "probs": probs}


def report(result: dict) -> str:
    labels, shifts = result["labels"], result["shifts"]
    head = "| model | shift | answers changed | " + " | ".join(f"Δ p({label})" for label in labels) + " |"
    rows = [head, "|---" * (3 + len(labels)) + "|"]
    for name, probs in result["probs"].items():
        for s, shift in enumerate(shifts[1:], start=1):
            changed = np.mean(probs[s].argmax(1) != probs[0].argmax(1))
            delta = (probs[s] - probs[0]).mean(0)
            cells = " | ".join(f"{d:+.3f}" for d in delta)
            rows.append(f"| {name} | {shift:+g} | {changed:.0%} | {cells} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--semitones", type=float, nargs="+", default=[-1.0, 2.0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how much of each recording (default: 60)")
    parser.add_argument("--side", default="test", help="split side whose recordings are probed (default: test)")
    parser.add_argument("--models", help="comma-separated models to probe (default: the ensemble and every model)")
    args = parser.parse_args()
    models = args.models.split(",") if args.models else ["ensemble", *trained_model_names(args.run)]
    print(report(probe(args.run, args.semitones, args.seconds, args.side, models)))


if __name__ == "__main__":
    main()
