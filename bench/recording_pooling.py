"""Whole-recording answers from window embeddings, head against head, on the folds `classicfy
crossval` deals.

    python bench/recording_pooling.py [--data builtin:composers] [--folds 4] [--fold-seed 0]
        [--seeds 0,1,2] [--backbone vgg-pretrained|musicnn-pretrained|both,comma,joined]
        [--heads mean,...] [--probabilities P.csv] [--crops K]

Every window of every recording is embedded once by the frozen backbone of `vgg-pretrained`
(musicnn's VGG) or `musicnn-pretrained`; the embeddings never train, so they are kept in
`bench/out/` for the next run. The heads, each chosen (epoch or C in 0.001-10) by the validation
side's recording log loss:
- `mean`: a window classifier (the `vgg-pretrained` head), its windows' log-probabilities averaged
  per recording, as classicfy answers today;
- `confidence`: the same window classifier and a learned score per window; a recording's answer
  weighs its windows' log-probabilities by the softmax of their scores;
- `attention`: gated attention pooling of the windows' hidden features (Ilse et al., 2018), then a
  classifier of the pooled recording;
- `window-logistic`: a logistic regression on single windows' embeddings, averaged as `mean`;
- `logistic`: the pooled probe, a logistic regression on each recording's mean and standard
  deviation of its windows' embeddings;
- `baseline`: `window-logistic` on the baseline's MFCC and chroma statistics of each window (the
  baseline of `classicfy crossval`);
- `summary-logistic`: `logistic` on those statistics instead of embeddings;
- `joint-logistic`: `logistic` on both side by side;
- `logistic-mean`, `logistic-max`, `logistic-quantiles`: `logistic` with other descriptions of a
  recording: the mean alone; mean, spread and maximum; mean, spread and the 10th, 50th and 90th
  percentiles;
- `logistic-copies`: `logistic` that also trains on one augmented copy of each training recording,
  as the demo's recipe augments (pitch shifted up to 6 semitones, stretched, noise), embedded the
  same way;
- `logistic-originals`: `logistic` trained on the original recordings only, without the renditions
  a dataset such as `builtin:composers-piano-varied` lists beside them (the same as `logistic` on
  a dataset without renditions);
- `notes-logistic`: `logistic` on basic-pitch's note and onset activations (each window's mean and
  standard deviation per key), `probe-notes` on those beside the embeddings.
`confidence` and `attention` train on random crops of 1 to 16 windows, classes drawn evenly; with
`--crops K`, so does the probe (K per recording, beside the whole recordings), and it is also asked
about every test window alone. The
table gives recording macro-F1 pooled over folds (mean over seeds) and each head's paired
difference from the first head, with a 95% interval over resampled works.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from torch import nn

from classicfy.config import FeatureConfig, feature_config_for
from classicfy.data.builtin import resolve_dataset
from classicfy.data.folds import fold_splits
from classicfy.data.manifest import list_dataset
from classicfy.evaluation.baseline import summary_statistics
from classicfy.evaluation.bootstrap import paired_difference
from classicfy.evaluation.metrics import macro_f1
from classicfy.features.cache import FeatureCache
from classicfy.features.extraction import augment_dataset, extract_dataset
from classicfy.features.inputs import WindowSet, iter_batches
from classicfy.models import MODELS, PretrainedClassifier
from classicfy.models.pretrained import PretrainedConfig
from classicfy.workspace import Workspace

OUT = Path(__file__).parent / "out"
HIDDEN = 128
CROP = 16
HEADS = (
    "mean",
    "confidence",
    "attention",
    "window-logistic",
    "logistic",
    "baseline",
    "summary-logistic",
    "joint-logistic",
    "notes-logistic",
    "probe-notes",
    "logistic-mean",
    "logistic-max",
    "logistic-quantiles",
    "logistic-copies",
    "logistic-originals",
)
C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0)


def dataset_windows(data: str, kind: str, work: Workspace, recordings: list | None = None):
    """The cached windows of one input kind for `recordings` (by default every usable recording of
    `data`, in its order), the recordings, their content hashes and the window counts a fold split shares."""
    config = feature_config_for(kind, FeatureConfig())
    report = extract_dataset(list_dataset(resolve_dataset(data, work)), config, work)
    cache, hashes = FeatureCache(work.cache, config), report.content_hashes()
    recordings = report.recordings if recordings is None else recordings
    entries = [cache.get(hashes[r.path], verify=False) for r in recordings]
    return WindowSet(entries, [0] * len(entries), kind), recordings, hashes, report.windows_per_recording()


def per_recording(flat: np.ndarray, windows: WindowSet, recordings: int) -> list[np.ndarray]:
    """Rows of all windows, split into each of the `recordings` recordings'."""
    return [flat[windows.recording_of == i] for i in range(recordings)]


def summary_dataset(data: str, recordings: list, work: Workspace) -> list[np.ndarray]:
    """Each recording's windows as the baseline sees them: mean and std of MFCC and chroma."""
    windows = dataset_windows(data, "sequence", work, recordings)[0]
    return per_recording(summary_statistics(windows), windows, len(recordings))


def notes_dataset(data: str, recordings: list, work: Workspace) -> list[np.ndarray]:
    """Each recording's windows as the notes models hear them, summarised: mean and std per key."""
    windows = dataset_windows(data, "notes", work, recordings)[0]
    batches = iter_batches(windows, 64)
    flat = np.concatenate(
        [np.concatenate([b.mean(axis=-1), b.std(axis=-1)], axis=1).reshape(len(b), -1) for b in batches]
    )
    return per_recording(flat, windows, len(recordings))


def _backbone_model(backbone: str, input_shape: tuple[int, ...]) -> nn.Module:
    """A frozen model to embed with: a classicfy model by name, or one of musicnn's taggers (`vgg-msd`, ...)."""
    if backbone in MODELS:
        return MODELS[backbone](input_shape, 2)
    return PretrainedClassifier(input_shape, 2, PretrainedConfig(backbone=backbone))


def embed_dataset(data: str, backbone: str, work: Workspace) -> tuple[list, list[np.ndarray], dict]:
    """Recordings, each one's (windows, embedding) array, and the window counts a fold split shares."""
    windows, recordings, hashes, counts = dataset_windows(data, "musicnn", work)
    # The backbone is frozen, so its embeddings of the same recordings are kept for the next run.
    key = hashlib.sha256("".join(hashes[r.path] for r in recordings).encode()).hexdigest()[:16]
    kept = OUT / f"pooling-{backbone}-{key}.npy"
    if kept.exists():
        flat = np.load(kept)
    else:
        model = _backbone_model(backbone, windows.input_shape)
        with torch.no_grad():
            flat = model.embeddings(windows, batch_size=16)
        OUT.mkdir(parents=True, exist_ok=True)
        np.save(kept, flat)
    return recordings, per_recording(flat, windows, len(recordings)), counts


def embed_copies(data: str, backbone: str, work: Workspace) -> list[np.ndarray]:
    """Each recording's augmented copy (the demo recipe's one copy, seed 0), embedded window by window."""
    from classicfy.training.recipes import demo_config

    config = feature_config_for("musicnn", FeatureConfig())
    report = extract_dataset(list_dataset(resolve_dataset(data, work)), config, work)
    hashes = report.content_hashes()
    key = hashlib.sha256("".join(hashes[r.path] for r in report.recordings).encode()).hexdigest()[:16]
    kept = OUT / f"pooling-copies-{backbone}-{key}.npz"
    if kept.exists():
        stored = np.load(kept)
        return [stored[str(i)] for i in range(len(report.recordings))]
    tasks = [(r.path, hashes[r.path], 1) for r in report.recordings]
    keys = augment_dataset(tasks, (config,), demo_config().augment, work)
    cache = FeatureCache(work.cache, config)
    entries = [cache.get(k[config][0], verify=False) for k in keys]
    windows = WindowSet(entries, [0] * len(entries), "musicnn")
    model = MODELS[backbone](windows.input_shape, 2)
    with torch.no_grad():
        flat = model.embeddings(windows, batch_size=16)
    copies = per_recording(flat, windows, len(entries))
    np.savez(kept, **{str(i): c for i, c in enumerate(copies)})
    return copies


class Head(nn.Module):
    """Hidden features per window, then one of the three ways to a recording's log-probabilities."""

    def __init__(self, size: int, n_labels: int, pooling: str) -> None:
        super().__init__()
        self.pooling = pooling
        # No batch norm: a recording's bag may hold a single window. Embeddings come standardised.
        self.hidden = nn.Sequential(nn.Linear(size, HIDDEN), nn.ReLU(), nn.Dropout(0.3))
        self.classify = nn.Linear(HIDDEN, n_labels)
        self.score = nn.Linear(HIDDEN, 1)  # confidence: one score per window
        self.gate_tanh, self.gate_sigmoid = nn.Linear(HIDDEN, 64), nn.Linear(HIDDEN, 64)  # attention
        self.attend = nn.Linear(64, 1)

    def windows(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(self.classify(self.hidden(x)), dim=1)

    def recording(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.hidden(x)
        if self.pooling == "mean":
            return torch.log_softmax(self.classify(hidden), dim=1).mean(0)
        if self.pooling == "confidence":
            weights = torch.softmax(self.score(hidden).squeeze(1), dim=0)
            return (weights[:, None] * torch.log_softmax(self.classify(hidden), dim=1)).sum(0)
        gates = torch.tanh(self.gate_tanh(hidden)) * torch.sigmoid(self.gate_sigmoid(hidden))
        weights = torch.softmax(self.attend(gates).squeeze(1), dim=0)
        return torch.log_softmax(self.classify((weights[:, None] * hidden).sum(0, keepdim=True)), dim=1)[0]


def _bags(embeddings: list[np.ndarray], y: np.ndarray, train: np.ndarray, rng: np.random.Generator, n: int):
    """`n` crops of 1 to CROP consecutive windows from training recordings, classes drawn evenly."""
    by_label = {label: train[y[train] == label] for label in np.unique(y[train])}
    for _ in range(n):
        chosen = rng.choice(by_label[rng.choice(list(by_label))])
        windows = embeddings[chosen]
        length = int(rng.integers(1, min(CROP, len(windows)) + 1))
        start = int(rng.integers(0, len(windows) - length + 1))
        yield windows[start : start + length], y[chosen]


def fit_head(pooling: str, embeddings: list[np.ndarray], y: np.ndarray, sides: dict, n_labels: int, seed: int):
    """A head trained on the training side, at its epoch of lowest validation recording log loss."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    training = np.concatenate([embeddings[i] for i in sides["train"]])
    mean, std = training.mean(axis=0), training.std(axis=0) + 1e-6  # the layers' spreads differ 40-fold
    embeddings = [((e - mean) / std).astype(np.float32) for e in embeddings]
    head = Head(embeddings[0].shape[1], n_labels, pooling)
    optimiser = torch.optim.AdamW(head.parameters(), lr=1e-3, weight_decay=1e-2)
    best, best_state, waited = np.inf, None, 0
    for _ in range(40):
        head.train()
        if pooling == "mean":  # window by window, classes weighted evenly
            x = torch.from_numpy(np.concatenate([embeddings[i] for i in sides["train"]]))
            labels = torch.from_numpy(np.concatenate([[y[i]] * len(embeddings[i]) for i in sides["train"]]))
            weights = len(labels) / (n_labels * torch.bincount(labels, minlength=n_labels).clamp(min=1))
            for batch in torch.randperm(len(labels)).split(64):
                optimiser.zero_grad()
                nn.functional.nll_loss(head.windows(x[batch]), labels[batch], weight=weights.float()).backward()
                optimiser.step()
        else:
            bags = list(_bags(embeddings, y, sides["train"], rng, 8 * len(sides["train"])))
            for start in range(0, len(bags), 16):
                optimiser.zero_grad()
                batch = bags[start : start + 16]
                log_probs = torch.stack([head.recording(torch.from_numpy(w)) for w, _ in batch])
                nn.functional.nll_loss(log_probs, torch.tensor([label for _, label in batch])).backward()
                optimiser.step()
        loss = -np.mean(
            [answer[y[i]] for i, answer in zip(sides["val"], answers(head, embeddings, sides["val"]), strict=True)]
        )
        if loss < best:
            best, best_state, waited = loss, {k: v.clone() for k, v in head.state_dict().items()}, 0
        elif (waited := waited + 1) >= 6:
            break
    head.load_state_dict(best_state)
    return answers(head, embeddings, sides["test"])


def pooled(windows: list[np.ndarray]) -> np.ndarray:
    """(recordings, 2 * features): each recording's mean and standard deviation over its windows."""
    return np.stack([np.concatenate([w.mean(axis=0), w.std(axis=0)]) for w in windows])


def fit_window_logistic(embeddings: list[np.ndarray], y: np.ndarray, sides: dict, n_labels: int) -> list[np.ndarray]:
    """A logistic regression on windows, averaged per recording in log space; C chosen by validation log loss."""
    windows = np.concatenate([embeddings[i] for i in sides["train"]])
    labels = np.concatenate([[y[i]] * len(embeddings[i]) for i in sides["train"]])
    scaler = StandardScaler().fit(windows)

    def recordings(model: LogisticRegression, which: np.ndarray) -> np.ndarray:
        found = np.full((len(which), n_labels), np.log(1e-9))
        for row, i in enumerate(which):
            found[row, model.classes_] = model.predict_log_proba(scaler.transform(embeddings[i])).mean(axis=0)
        return found - np.logaddexp.reduce(found, axis=1, keepdims=True)

    models = [LogisticRegression(C=c, max_iter=1000, class_weight="balanced") for c in C_GRID]
    models = [model.fit(scaler.transform(windows), labels) for model in models]
    best = max(
        models, key=lambda model: recordings(model, sides["val"])[np.arange(len(sides["val"])), y[sides["val"]]].mean()
    )
    return list(recordings(best, sides["test"]))


def fit_logistic(
    pooled: np.ndarray, y: np.ndarray, sides: dict, n_labels: int, extra: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[list[np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    """Log-probabilities of a logistic regression on pooled recordings (and `extra` rows, such as
    crops), C chosen by validation log loss; and the fitted model, as rows to log-probabilities."""
    rows, labels = pooled[sides["train"]], y[sides["train"]]
    if extra is not None:
        rows, labels = np.concatenate([rows, extra[0]]), np.concatenate([labels, extra[1]])
    scaler = StandardScaler().fit(rows)

    def fitted(c: float) -> Callable[[np.ndarray], np.ndarray]:
        model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced").fit(scaler.transform(rows), labels)

        def log_probabilities(x: np.ndarray) -> np.ndarray:
            found = np.full((len(x), n_labels), np.log(1e-9))
            found[:, model.classes_] = model.predict_log_proba(scaler.transform(x))
            return found

        return log_probabilities

    def val_loss(model: Callable[[np.ndarray], np.ndarray]) -> float:
        return -float(np.mean(model(pooled[sides["val"]])[np.arange(len(sides["val"])), y[sides["val"]]]))

    best = min((fitted(c) for c in C_GRID), key=val_loss)
    return list(best(pooled[sides["test"]])), best


def crops(embeddings: list[np.ndarray], y: np.ndarray, train: np.ndarray, per_recording: int, seed: int):
    """Pooled rows of `per_recording` random crops (1 to CROP consecutive windows) of each training recording."""
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for i in train:
        for _ in range(per_recording):
            length = int(rng.integers(1, min(CROP, len(embeddings[i])) + 1))
            start = int(rng.integers(0, len(embeddings[i]) - length + 1))
            rows.append(pooled([embeddings[i][start : start + length]])[0])
            labels.append(y[i])
    return np.array(rows), np.array(labels)


def answers(head: Head, embeddings: list[np.ndarray], which: np.ndarray) -> list[np.ndarray]:
    head.eval()
    with torch.no_grad():
        return [head.recording(torch.from_numpy(embeddings[i])).numpy() for i in which]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="builtin:composers", help="dataset (default: %(default)s)")
    parser.add_argument("--folds", type=int, default=4, help="folds grouped by work (default: %(default)s)")
    parser.add_argument("--fold-seed", type=int, default=0, help="seed that deals the folds (default: %(default)s)")
    parser.add_argument("--seeds", default="0,1,2", help="seeds of the heads (default: %(default)s)")
    parser.add_argument(
        "--backbone",
        default="vgg-pretrained",
        help="frozen backbone: vgg-pretrained, musicnn-pretrained, a tagger (vgg-msd, musicnn-msd), or several "
        "joined by commas (side by side)",
    )
    parser.add_argument("--probabilities", type=Path, help="also write every test answer to this CSV file")
    parser.add_argument(
        "--crops",
        type=int,
        help="the probe (`logistic`) also trains on this many random crops of each training recording "
        "(0: none), and is asked about every test window alone too (default: neither)",
    )
    parser.add_argument("--heads", default=",".join(HEADS), help="heads to compare (default: %(default)s)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    start = time.perf_counter()
    heads = args.heads.split(",")
    if unknown := set(heads) - set(HEADS):
        parser.error(f"unknown head(s) {', '.join(sorted(unknown))}; known: {', '.join(HEADS)}")
    work = Workspace.create(progress=False)
    parts = [embed_dataset(args.data, backbone, work) for backbone in args.backbone.split(",")]
    recordings, _, counts = parts[0]
    embeddings = [np.concatenate(windows, axis=1) for windows in zip(*(p[1] for p in parts), strict=True)]
    labels = sorted({r.label for r in recordings})
    y = np.array([labels.index(r.label) for r in recordings])
    works = np.array([r.group for r in recordings])
    index = {r.path: i for i, r in enumerate(recordings)}
    tables = {"logistic": pooled(embeddings), "logistic-originals": pooled(embeddings)}
    tested = np.flatnonzero([r.rendition_of is None for r in recordings])  # renditions only ever train
    tables["logistic-mean"] = np.stack([w.mean(axis=0) for w in embeddings])
    tables["logistic-max"] = np.concatenate([tables["logistic"], np.stack([w.max(axis=0) for w in embeddings])], axis=1)
    quantiles = np.stack([np.quantile(w, [0.1, 0.5, 0.9], axis=0).ravel() for w in embeddings])
    tables["logistic-quantiles"] = np.concatenate([tables["logistic"], quantiles], axis=1)
    if {"baseline", "summary-logistic", "joint-logistic"} & set(heads):
        statistics = summary_dataset(args.data, recordings, work)
        tables["summary-logistic"] = pooled(statistics)
        tables["joint-logistic"] = np.concatenate([tables["logistic"], tables["summary-logistic"]], axis=1)
    if {"notes-logistic", "probe-notes"} & set(heads):
        tables["notes-logistic"] = pooled(notes_dataset(args.data, recordings, work))
        tables["probe-notes"] = np.concatenate([tables["logistic"], tables["notes-logistic"]], axis=1)
    if "logistic-copies" in heads:
        copies = pooled(embed_copies(args.data, args.backbone, work))
        tables["logistic-copies"] = tables["logistic"]
    saved = []
    single: dict[int, list] = defaultdict(list)  # with --crops: the probe's answers to single windows
    predicted = {head: [] for head in heads}  # per head, per seed: the answer for every recording
    for seed in (int(s) for s in args.seeds.split(",")):
        answer = {head: np.zeros(len(recordings), int) for head in heads}
        for fold in fold_splits(recordings, counts, args.folds, 0.15, args.fold_seed):
            sides = {s: np.array([index[r.path] for r in fold if r.split == s]) for s in ("train", "val", "test")}
            originals_only = {**sides, "train": np.intersect1d(sides["train"], tested)}
            for head in heads:
                on = originals_only if head == "logistic-originals" else sides
                if head in ("window-logistic", "baseline"):
                    per_window = embeddings if head == "window-logistic" else statistics
                    found = fit_window_logistic(per_window, y, on, len(labels))
                elif head == "logistic" and args.crops is not None:
                    extra = crops(embeddings, y, on["train"], args.crops, seed) if args.crops else None
                    found, model = fit_logistic(tables[head], y, on, len(labels), extra)
                    for i in on["test"]:  # each window alone, as a crop of one
                        single[seed].append((y[i], model(pooled([w[None] for w in embeddings[i]])).argmax(axis=1)))
                elif head == "logistic-copies":
                    extra = (copies[on["train"]], y[on["train"]])
                    found, _ = fit_logistic(tables[head], y, on, len(labels), extra)
                elif head in tables:
                    found, _ = fit_logistic(tables[head], y, on, len(labels))
                else:
                    found = fit_head(head, embeddings, y, on, len(labels), seed)
                answer[head][on["test"]] = [a.argmax() for a in found]
                saved += [(seed, recordings[i].path, head, *np.exp(a)) for i, a in zip(on["test"], found, strict=True)]
        for head in heads:
            predicted[head].append(answer[head])

    if args.probabilities:
        columns = ["seed", "path", "head", *(f"p_{label}" for label in labels)]
        with args.probabilities.open("w", newline="") as file:
            csv.writer(file).writerows([columns, *([*row[:3], *(f"{p:.6g}" for p in row[3:])] for row in saved)])

    def statistic(head: str):
        truth = y[tested]
        return lambda at: float(np.mean([macro_f1(truth[at], run[tested][at], len(labels)) for run in predicted[head]]))

    everything = np.arange(len(tested))
    what = (
        f"{args.backbone} embeddings, {args.data}, {len(tested)} recordings tested, {args.folds} folds, "
        f"fold seed {args.fold_seed}"
    )
    print(f"| pooling ({what}, seeds {args.seeds}) | recording macro-F1 | minus {heads[0]} [95% CI] |")
    print("|---|---:|---:|")
    for head in heads:
        if head == heads[0]:
            print(f"| {head} | {statistic(head)(everything):.3f} | |")
            continue
        difference, (low, high) = paired_difference(statistic(head), statistic(heads[0]), y[tested], works[tested])
        print(f"| {head} | {statistic(head)(everything):.3f} | {difference:+.3f} [{low:+.3f}, {high:+.3f}] |")
    for seed, answered in single.items():
        truth = np.concatenate([[label] * len(found) for label, found in answered])
        guesses = np.concatenate([found for _, found in answered])
        print(f"logistic with {args.crops} crops per recording, seed {seed}: single-window macro-F1 "
              f"{macro_f1(truth, guesses, len(labels)):.3f}")  # fmt: skip
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
