"""Tagging speed: real-time factors of the pretrained taggers on one core.

    python bench/tag.py [--minutes 5] [--repeats 3]

Times `Tagger.tag` (decode, resample to 16 kHz, mel, patches, network, averaging) on a generated
recording of --minutes minutes at 44.1 kHz, with torch and BLAS limited to one thread. The real-time
factor is seconds of audio per second of wall time, median over repeats after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import torch
from threadpoolctl import threadpool_limits

from classicfy.data.synthetic import tone_recording
from classicfy.tagging import Tagger


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "tag.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seconds = args.minutes * 60
    factors = {}
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(1):
        path = Path(tmp) / "recording.flac"
        soundfile.write(path, tone_recording(np.random.default_rng(0), seconds, 44100, (200.0, 800.0)), 44100)
        for model in ("vgg-mtt", "musicnn-mtt", "vgg-msd", "musicnn-msd"):
            tagger = Tagger(model)
            tagger.tag(path)  # warm-up
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                tagger.tag(path)
                times.append(time.perf_counter() - start)
            factors[model] = seconds / statistics.median(times)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"audio_seconds": seconds, "realtime_factor": factors}, indent=2))
    print(f"| model | real-time factor, 1 core ({args.minutes:g} min recording) |\n|---|---:|")
    for model, factor in factors.items():
        print(f"| {model} | {factor:.0f}x |")


if __name__ == "__main__":
    main()
