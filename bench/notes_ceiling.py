"""How much the notes themselves tell composers apart: the ceiling the audio models work under.

    python bench/notes_ceiling.py [--data builtin:composers] [--folds 4] [--fold-seed 0] [--seed 0]
                                  [--model notes-cnn|notes-gru|none] [--max-windows-per-class 300]

Every recording of a built-in dataset was rendered from a score. Here the score itself is
classified, on the folds `classicfy crossval` deals (the same recordings tested by the same fold):
- `statistics`: a logistic regression on whole-piece statistics of the true notes (pitch-class
  profile relative to the piece's tonic, melodic and harmonic intervals, polyphony, note density,
  register), with its regularisation tuned on the validation side;
- `patterns`: a logistic regression that learns which of some 6,000 note patterns tell composers
  apart: how often each sonority (the set of pitch classes sounding at an onset, relative to the
  tonic) occurs, each move of the bass to the next sonority's (from which degree, by which
  interval), each pair of successive melodic intervals of the top voice and of the bass, and each
  pair of successive rhythmic ratios; frequencies square-rooted, C tuned on the validation side;
  `statistics and patterns` joins both descriptions (the statistics standardised, scaled to the
  spread of one family of frequencies);
- `notes-cnn (true roll)` (or `notes-gru`): classicfy's model trained on the true piano roll (note
  and onset rolls of 88 keys in basic-pitch's frames) in 10 s windows, at most N windows per class
  drawn per epoch, transposed at random by up to a tritone while training, windows averaged per
  recording by their log-probabilities as `classicfy` does.

The scores are played as the corpus build plays them (the same drawn tempo), so the rolls line up
with the audio. The gap between these figures and the audio models' is what transcription, timbre
and the models lose.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from pathlib import Path

import numpy as np

from classicfy.config import NOTES_SAMPLE_RATE, BuildOptions
from classicfy.data.builtin import resolve_dataset
from classicfy.data.folds import fold_splits
from classicfy.data.manifest import list_dataset
from classicfy.evaluation.metrics import macro_f1
from classicfy.workspace import Workspace

FRAMES_PER_S = NOTES_SAMPLE_RATE / 256  # basic-pitch's frame rate, which notes-cnn is built for
WINDOW_S = 10.0
OUT = Path(__file__).parent / "out"
PITCH_SHIFT = 6
MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])  # Krumhansl-Kessler


def score_notes(source: str, seed: int) -> np.ndarray:
    """(start_s, end_s, midi pitch) of every note of a corpus score, played as the build plays it."""
    import pretty_midi

    from classicfy.data import scores
    from classicfy.data.rendering import score_to_midi

    midi_bytes, _ = score_to_midi(source, BuildOptions(seed=seed))
    pretty_midi.pretty_midi.MAX_TICK = scores.LONGEST_MIDI_TICKS  # a quartet's MIDI is that long
    midi = pretty_midi.PrettyMIDI(io.BytesIO(midi_bytes))
    notes = [(n.start, n.end, n.pitch) for i in midi.instruments if not i.is_drum for n in i.notes]
    return np.array(sorted(notes), dtype=np.float64).reshape(-1, 3)


def statistics(notes: np.ndarray) -> np.ndarray:
    """Whole-piece statistics of the notes that do not depend on key."""
    pitches = notes[:, 2].astype(int)
    durations = notes[:, 1] - notes[:, 0]
    profile = np.bincount(pitches % 12, weights=durations, minlength=12)
    relative = np.roll(profile / max(profile.sum(), 1e-9), -_tonic(notes))
    onsets = np.unique(np.round(notes[:, 0], 3))
    top = [pitches[np.round(notes[:, 0], 3) == t].max() for t in onsets]
    melodic = np.bincount(np.clip(np.abs(np.diff(top)), 0, 12), minlength=13) / max(len(top) - 1, 1)
    chords = [pitches[np.round(notes[:, 0], 3) == t] for t in onsets]
    harmonic = np.zeros(12)
    for chord in chords:
        for interval in np.subtract.outer(chord, chord)[np.triu_indices(len(chord), 1)] % 12:
            harmonic[interval] += 1
    harmonic = harmonic / max(harmonic.sum(), 1)
    seconds = notes[:, 1].max() - notes[:, 0].min()
    shape = [len(onsets) / seconds, np.mean([len(c) for c in chords]), pitches.mean(), pitches.std(), np.ptp(pitches)]
    return np.concatenate([relative, melodic, harmonic, shape])


def rolls(notes: np.ndarray) -> np.ndarray:
    """Note and onset rolls, (windows, 2, 88, frames) in 10 s windows, keys low to high."""
    frames = int(np.ceil(notes[:, 1].max() * FRAMES_PER_S)) + 1
    roll = np.zeros((2, 88, frames), np.float32)
    for start, end, pitch in notes:
        key = int(pitch) - 21
        if 0 <= key < 88:
            first, last = int(start * FRAMES_PER_S), max(int(end * FRAMES_PER_S), int(start * FRAMES_PER_S) + 1)
            roll[0, key, first:last] = 1.0
            roll[1, key, first : first + 2] = 1.0
    width = int(WINDOW_S * FRAMES_PER_S)
    count = max(frames // width, 1)
    roll = np.pad(roll, ((0, 0), (0, 0), (0, max(count * width - frames, 0))))
    return np.stack([roll[:, :, i * width : (i + 1) * width] for i in range(count)])


def patterns(notes: np.ndarray) -> np.ndarray:
    """How often each note pattern occurs in a piece (each family's frequencies sum to 1): sonorities
    relative to the tonic, bass moves, melodic interval pairs of the top voice and the bass, and
    pairs of successive inter-onset ratios."""
    tonic = _tonic(notes)
    onsets = np.unique(np.round(notes[:, 0], 3))
    sounding = [notes[(notes[:, 0] <= t + 1e-3) & (notes[:, 1] > t + 1e-3), 2].astype(int) for t in onsets]
    sounding = [s if len(s) else np.array([0]) for s in sounding]
    sonority = np.array([np.bitwise_or.reduce(1 << ((s - tonic) % 12)) for s in sounding])
    bass, top = np.array([s.min() for s in sounding]), np.array([s.max() for s in sounding])
    degree = (bass - tonic) % 12
    leap = np.clip(np.diff(bass), -12, 12) + 12
    bass_moves = degree[:-1] * 25 + leap
    ratios = np.clip(np.round(np.log2(np.diff(onsets[1:]) / np.maximum(np.diff(onsets[:-1]), 1e-3))), -3, 3) + 3
    families = [
        (sonority, 4096),
        (bass_moves, 12 * 25),
        (_pairs(np.clip(np.diff(top), -12, 12) + 12, 25), 625),
        (_pairs(leap, 25), 625),
        (_pairs(ratios.astype(int), 7), 49),
    ]
    return np.concatenate([np.bincount(v, minlength=size) / max(len(v), 1) for v, size in families])


def _pairs(values: np.ndarray, size: int) -> np.ndarray:
    return values[:-1] * size + values[1:]


def _tonic(notes: np.ndarray) -> int:
    """The tonic of the major key whose Krumhansl-Kessler profile the piece's pitch classes fit best."""
    profile = np.bincount(notes[:, 2].astype(int) % 12, weights=notes[:, 1] - notes[:, 0], minlength=12)
    return int(np.argmax([np.corrcoef(np.roll(MAJOR, k), profile)[0, 1] for k in range(12)]))


def fit_statistics(
    x: np.ndarray, y: np.ndarray, sides: dict[str, np.ndarray], n_labels: int, standardised: int | None = None
) -> np.ndarray:
    """Test-side predictions of a logistic regression whose C is chosen on the validation side.

    The first `standardised` columns (all by default) are standardised. Pattern frequencies are not
    (a rare pattern would weigh as much as a common one): beside them, the standardised columns are
    scaled to a spread of 1 in all, as each family of frequencies has.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    def model(c: float):
        regression = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
        if standardised is None:
            return make_pipeline(StandardScaler(), regression)
        if not standardised:
            return regression
        spread_of_one = FunctionTransformer(lambda v: v / np.sqrt(standardised))
        columns = [("statistics", make_pipeline(StandardScaler(), spread_of_one), list(range(standardised)))]
        return make_pipeline(ColumnTransformer(columns, remainder="passthrough"), regression)

    train, val = sides["train"], sides["val"]
    best = max(
        (0.01, 0.1, 1.0, 10.0) if standardised is None else (0.1, 1.0, 10.0, 100.0, 1000.0),
        key=lambda c: macro_f1(y[val], model(c).fit(x[train], y[train]).predict(x[val]), n_labels),
    )
    fit = model(best).fit(x[np.concatenate([train, val])], y[np.concatenate([train, val])])
    return fit.predict(x[sides["test"]])


def fit_roll_model(windows: list[np.ndarray], y: np.ndarray, sides: dict[str, np.ndarray], n_labels: int, args):
    """Window log-probabilities of the model on each test recording, trained on the train side (each
    epoch at most `max_windows_per_class` windows of each class) and stopped at its best validation
    window macro-F1."""
    import torch

    from classicfy.models import MODELS

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    def stack(side: str) -> tuple[np.ndarray, np.ndarray]:
        chosen = sides[side]
        return np.concatenate([windows[i] for i in chosen]), np.concatenate([[y[i]] * len(windows[i]) for i in chosen])

    x_train, y_train = stack("train")
    x_val, y_val = stack("val")
    model = MODELS[args.model](x_train.shape[1:], n_labels)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    best, best_state, waited = -1.0, None, 0
    for _ in range(args.epochs):
        model.train()
        drawn = np.concatenate([
            rng.permutation(np.flatnonzero(y_train == label))[: args.max_windows_per_class] for label in range(n_labels)
        ])  # fmt: skip
        for batch in np.array_split(rng.permutation(drawn), max(len(drawn) // 32, 1)):
            shift = int(rng.integers(-PITCH_SHIFT, PITCH_SHIFT + 1))
            x = torch.roll(torch.from_numpy(x_train[batch]), shift, dims=2)
            optimiser.zero_grad()
            torch.nn.functional.cross_entropy(model(x), torch.from_numpy(y_train[batch])).backward()
            optimiser.step()
        score = macro_f1(y_val, _log_probabilities(model, x_val).argmax(1), n_labels)
        if score > best:
            best, best_state, waited = score, {k: v.clone() for k, v in model.state_dict().items()}, 0
        elif (waited := waited + 1) >= 5:
            break
    model.load_state_dict(best_state)
    return [_log_probabilities(model, windows[i]) for i in sides["test"]]


def _log_probabilities(model, x: np.ndarray) -> np.ndarray:
    import torch

    model.eval()
    with torch.no_grad():
        return np.concatenate(
            [torch.log_softmax(model(torch.from_numpy(b)), 1).numpy() for b in np.array_split(x, max(len(x) // 64, 1))]
        )


def read_notes(sources: list[str], start: float) -> list[np.ndarray]:
    """Every score's notes, kept in `bench/out/` (the quartets take minutes to parse)."""
    import hashlib

    key = hashlib.sha256(f"{BuildOptions.seed}:{'|'.join(sources)}".encode()).hexdigest()[:16]
    kept = OUT / f"notes-{key}.npz"
    if kept.exists():
        stored = np.load(kept)
        return [stored[str(i)] for i in range(len(sources))]
    notes = []
    for count, source in enumerate(sources, start=1):
        notes.append(score_notes(source, BuildOptions.seed))
        if count % 20 == 0 or count == len(sources):
            print(f"scores read: {count} of {len(sources)} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez(kept, **{str(i): n for i, n in enumerate(notes)})
    return notes


def dataset(data: str) -> tuple[list, list[str], list[str]]:
    """The recordings of a built-in dataset, their labels and the corpus score of each."""
    manifest = resolve_dataset(data, Workspace.create(progress=False))
    with open(manifest, newline="", encoding="utf-8") as handle:
        sources = {row["path"]: row["source"] for row in csv.DictReader(handle)}
    recordings = list_dataset(manifest)
    labels = sorted({r.label for r in recordings})
    return recordings, labels, [sources[Path(r.path).relative_to(manifest.parent).as_posix()] for r in recordings]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="builtin:composers", help="built-in dataset (default: %(default)s)")
    parser.add_argument("--folds", type=int, default=4, help="folds grouped by work (default: %(default)s)")
    parser.add_argument("--fold-seed", type=int, default=0, help="seed that deals the folds (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the model (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=20, help="most epochs of the model (default: %(default)s)")
    parser.add_argument(
        "--model",
        choices=("notes-cnn", "notes-gru", "none"),
        default="notes-cnn",
        help="model of the roll; none: only the logistic regressions (default: %(default)s)",
    )
    parser.add_argument(
        "--max-windows-per-class", type=int, default=300, help="training windows per class and epoch (default: 300)"
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    start = time.perf_counter()
    recordings, labels, sources = dataset(args.data)
    n = len(labels)
    y = np.array([labels.index(r.label) for r in recordings])
    notes = read_notes(sources, start)
    x = np.stack([statistics(piece) for piece in notes])
    frequencies = np.sqrt(np.stack([patterns(piece) for piece in notes]))
    joined = np.concatenate([x, frequencies], axis=1)
    windows = [rolls(piece) for piece in notes]
    index = {r.path: i for i, r in enumerate(recordings)}
    counts = {r.path: len(w) for r, w in zip(recordings, windows, strict=True)}
    truth, by_statistics, by_patterns, by_both, by_roll = [], [], [], [], []
    for fold in fold_splits(recordings, counts, args.folds, 0.15, args.fold_seed):
        sides = {side: np.array([index[r.path] for r in fold if r.split == side]) for side in ("train", "val", "test")}
        truth.extend(y[sides["test"]])
        by_statistics.extend(fit_statistics(x, y, sides, n))
        by_patterns.extend(fit_statistics(frequencies, y, sides, n, standardised=0))
        by_both.extend(fit_statistics(joined, y, sides, n, standardised=x.shape[1]))
        if args.model != "none":
            by_roll.extend(fit_roll_model(windows, y, sides, n, args))
        print(f"fold done ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    truth = np.array(truth)
    print(
        f"| notes of the scores ({args.data}, {len(recordings)} recordings, {args.folds} folds by work, "
        f"fold seed {args.fold_seed}) | window macro-F1 | recording macro-F1 |"
    )
    print("|---|---:|---:|")
    print(f"| chance (1/{n}) | {1 / n:.3f} | {1 / n:.3f} |")
    print(f"| statistics + logistic regression | | {macro_f1(truth, np.array(by_statistics), n):.3f} |")
    print(f"| patterns + logistic regression | | {macro_f1(truth, np.array(by_patterns), n):.3f} |")
    print(f"| statistics and patterns + logistic regression | | {macro_f1(truth, np.array(by_both), n):.3f} |")
    for name, found in (("statistics", by_statistics), ("patterns", by_patterns)):
        recalls = (f"{label} {np.mean(np.array(found)[truth == i] == i):.2f}" for i, label in enumerate(labels))
        print(f"recall per label, {name}: " + ", ".join(recalls))
    if args.model == "none":
        print(f"({time.perf_counter() - start:.0f} s)")
        return
    window_truth = np.repeat(truth, [len(w) for w in by_roll])
    roll_recordings = np.array([w.mean(0).argmax() for w in by_roll])
    window_f1 = macro_f1(window_truth, np.concatenate(by_roll).argmax(1), n)
    print(f"| {args.model} (true roll) | {window_f1:.3f} | {macro_f1(truth, roll_recordings, n):.3f} |")
    recalls = (f"{label} {np.mean(roll_recordings[truth == i] == i):.2f}" for i, label in enumerate(labels))
    print(f"\nrecall per label, {args.model} per recording: " + ", ".join(recalls))
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
