"""Embedding speed and memory: `classicfy embed` on one long recording, end to end.

    python bench/embed.py [--minutes 60] [--repeats 3] [--format mp3] [--jobs 2]

Runs `classicfy embed SOURCE FILE --out FILE.npz` in a fresh process per repeat (import, model
loading, streamed decoding, features, the model, the file written), for two sources: the `cnn` of
a run trained for one epoch on generated tones (speed does not depend on how well it learnt), and
the pretrained tagger `vgg-mtt`. Reports the median wall time, the real-time factor (seconds of
audio per second of wall time), the rows written and the peak resident memory: the stream keeps
memory bounded whatever the recording's length.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from predict import MEASURED_CLI, train_small_run, write_long_recording


def measure(source: list[str], recording: Path, out: Path, repeats: int, jobs: int) -> dict:
    """Median wall time, rows and peak memory of `classicfy embed SOURCE RECORDING` over fresh processes."""
    command = [sys.executable, "-c", MEASURED_CLI, "embed", *source, str(recording), "--out", str(out),
               "--no-progress", "--jobs", str(jobs)]  # fmt: skip
    times, peaks = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        peaks.append(int(done.stderr.rsplit("peak_rss_kb", 1)[1]))
    with np.load(out) as written:
        rows, size = written["embedding"].shape
    return {"median_seconds": statistics.median(times), "times": times, "rows": rows, "size": size,
            "peak_rss_mb": max(peaks) / 1024}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--format", choices=("mp3", "flac", "wav"), default="mp3")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "embed.json")
    args = parser.parse_args()
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run = train_small_run(root, "cnn")
        recording = root / f"long.{args.format}"
        write_long_recording(recording, args.minutes)
        sources = {"cnn of a run": [str(run)], "vgg-mtt (pretrained)": ["--model", "vgg-mtt"]}
        results = {
            name: measure(source, recording, root / "e.npz", args.repeats, args.jobs)
            for name, source in sources.items()
        }
    for result in results.values():
        result["realtime_factor"] = seconds / result["median_seconds"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"audio_seconds": seconds, "format": args.format, "results": results}, indent=2))
    print(f"| source | {args.minutes:g} min {args.format}: wall time (median of {args.repeats}) | real-time factor "
          f"| rows x size | peak memory |\n|---|---:|---:|---:|---:|")  # fmt: skip
    for name, r in results.items():
        print(f"| {name} | {r['median_seconds']:.1f} s | {r['realtime_factor']:.0f}x | {r['rows']} x {r['size']} "
              f"| {r['peak_rss_mb']:.0f} MB |")  # fmt: skip


if __name__ == "__main__":
    main()
