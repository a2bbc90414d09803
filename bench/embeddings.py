"""The frozen backbones' embedding step (training vgg-pretrained and musicnn-pretrained), before and
after it ran in passes of one patch on a CPU.

    python bench/embeddings.py [--windows 96] [--repeats 5]

Embeds the same ten-second windows (musicnn's input, three 3 s patches each) through each pretrained
backbone the way training does (`PretrainedClassifier.embeddings`, batches of 32 windows), once with
every patch of a batch in one pass (before) and once in passes of `CPU_PATCHES_PER_PASS` (now),
interleaved, and prints the median windows per second of each and their ratio. The outputs must
agree: only the speed may change.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from classicfy.config import MUSICNN_N_MELS
from classicfy.features.inputs import FeatureWindows
from classicfy.models import MODELS, musicnn

FRAMES_PER_WINDOW = 625  # 10 s at musicnn's 16 kHz and hop of 256


def seconds_to_embed(model, windows: FeatureWindows, patches_per_pass: int) -> tuple[float, np.ndarray]:
    musicnn.CPU_PATCHES_PER_PASS = patches_per_pass
    start = time.perf_counter()
    embeddings = model.embeddings(windows)
    return time.perf_counter() - start, embeddings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--windows", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    representation = rng.normal(size=(args.windows, FRAMES_PER_WINDOW, MUSICNN_N_MELS)).astype(np.float32)
    windows = FeatureWindows({"musicnn": representation}, np.arange(args.windows) * 10.0, "musicnn")
    now = musicnn.CPU_PATCHES_PER_PASS
    print(f"{torch.get_num_threads()} threads, {args.windows} windows, median of {args.repeats}")
    print("| backbone | before (windows/s) | now (windows/s) | now / before |")
    print("|---|---:|---:|---:|")
    for name in ("vgg-pretrained", "musicnn-pretrained"):
        model = MODELS[name]((3, 187, MUSICNN_N_MELS), 6)
        times: dict[str, list[float]] = {"before": [], "now": []}
        for _ in range(args.repeats):
            before, old = seconds_to_embed(model, windows, 10**6)
            after, new = seconds_to_embed(model, windows, now)
            times["before"].append(before)
            times["now"].append(after)
            assert np.allclose(old, new, rtol=1e-4, atol=1e-4 * np.abs(old).max()), "the embeddings changed"
        before_rate = args.windows / statistics.median(times["before"])
        now_rate = args.windows / statistics.median(times["now"])
        print(f"| {name} | {before_rate:.1f} | {now_rate:.1f} | {now_rate / before_rate:.2f} |")
    musicnn.CPU_PATCHES_PER_PASS = now


if __name__ == "__main__":
    main()
