"""Whole-recording answers: averaging window answers, weighting them by learned confidence, or
pooling window embeddings by attention (multiple-instance learning), on the same folds.

    python bench/recording_pooling.py [--data builtin:composers] [--folds 4] [--fold-seed 0] [--seeds 0,1,2]
                                      [--backbone vgg-pretrained|musicnn-pretrained]

Every window of every recording is embedded once by the frozen pretrained backbone of
`vgg-pretrained` (musicnn's VGG) or `musicnn-pretrained` (the same embedding for every fold, since
it never trains). On the
folds `classicfy crossval` deals, three heads learn from the training side's embeddings and pick
their epoch by the validation side's recording log loss:
- `mean`: a window classifier (the `vgg-pretrained` head), its windows' log-probabilities averaged
  per recording, as classicfy answers today;
- `confidence`: the same window classifier and a learned score per window; a recording's answer
  weighs its windows' log-probabilities by the softmax of their scores;
- `attention`: gated attention pooling of the windows' hidden features (Ilse et al., 2018), then a
  classifier of the pooled recording.
The last two train on recordings: random crops of 1 to 16 windows, classes drawn evenly. The table
gives recording macro-F1 pooled over folds (mean over seeds) and each head's paired difference from
`mean` with a 95% interval over resampled works.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from classicfy.config import FeatureConfig, feature_config_for
from classicfy.data.builtin import resolve_dataset
from classicfy.data.manifest import list_dataset
from classicfy.evaluation.bootstrap import paired_difference
from classicfy.evaluation.folds import fold_splits
from classicfy.evaluation.metrics import macro_f1
from classicfy.features.cache import FeatureCache
from classicfy.features.extraction import extract_dataset
from classicfy.features.inputs import WindowSet
from classicfy.models import MODELS
from classicfy.workspace import Workspace

HIDDEN = 128
CROP = 16
HEADS = ("mean", "confidence", "attention")


def embed_dataset(data: str, backbone: str, work: Workspace) -> tuple[list, list[np.ndarray], dict]:
    """Recordings, each one's (windows, embedding) array, and the window counts a fold split shares."""
    config = feature_config_for("musicnn", FeatureConfig())
    report = extract_dataset(list_dataset(resolve_dataset(data, work)), config, work)
    cache, hashes = FeatureCache(work.cache, config), report.content_hashes()
    entries = [cache.get(hashes[r.path], verify=False) for r in report.recordings]
    windows = WindowSet(entries, [0] * len(entries), "musicnn")
    model = MODELS[backbone](windows.input_shape, 2)
    with torch.no_grad():
        flat = model.embeddings(windows, batch_size=16)
    per_recording = [flat[windows.recording_of == i] for i in range(len(entries))]
    return report.recordings, per_recording, report.windows_per_recording()


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
        "--backbone", choices=("vgg-pretrained", "musicnn-pretrained"), default="vgg-pretrained", help="frozen backbone"
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    start = time.perf_counter()
    recordings, embeddings, counts = embed_dataset(args.data, args.backbone, Workspace.create(progress=False))
    labels = sorted({r.label for r in recordings})
    y = np.array([labels.index(r.label) for r in recordings])
    works = np.array([r.group for r in recordings])
    index = {r.path: i for i, r in enumerate(recordings)}
    predicted = {head: [] for head in HEADS}  # per head, per seed: the answer for every recording
    for seed in (int(s) for s in args.seeds.split(",")):
        answer = {head: np.zeros(len(recordings), int) for head in HEADS}
        for fold in fold_splits(recordings, counts, args.folds, 0.15, args.fold_seed):
            sides = {s: np.array([index[r.path] for r in fold if r.split == s]) for s in ("train", "val", "test")}
            for head in HEADS:
                found = fit_head(head, embeddings, y, sides, len(labels), seed)
                answer[head][sides["test"]] = [a.argmax() for a in found]
        for head in HEADS:
            predicted[head].append(answer[head])

    def statistic(head: str):
        return lambda at: float(np.mean([macro_f1(y[at], run[at], len(labels)) for run in predicted[head]]))

    everything = np.arange(len(y))
    what = (
        f"{args.backbone} embeddings, {args.data}, {len(y)} recordings, {args.folds} folds, fold seed {args.fold_seed}"
    )
    print(f"| pooling ({what}, seeds {args.seeds}) | recording macro-F1 | minus mean [95% CI] |")
    print("|---|---:|---:|")
    for head in HEADS:
        if head == "mean":
            print(f"| {head} | {statistic(head)(everything):.3f} | |")
            continue
        difference, (low, high) = paired_difference(statistic(head), statistic("mean"), y, works)
        print(f"| {head} | {statistic(head)(everything):.3f} | {difference:+.3f} [{low:+.3f}, {high:+.3f}] |")
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
