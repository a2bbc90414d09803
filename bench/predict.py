"""Prediction speed and memory: `classicfy predict` on one long recording, end to end.

    python bench/predict.py [--run RUN] [--minutes 60] [--repeats 3] [--format mp3]

Runs `classicfy predict RUN FILE --format json` in a fresh process per repeat (import, model
loading, decoding, features, every model of the ensemble, JSON) on a generated stereo 44.1 kHz
recording of --minutes minutes, and reports the median wall time, the real-time factor (seconds
of audio per second of wall time) and the peak resident memory of the prediction processes.
Without --run, a run with the demo's models (cnn, gru, vgg, vgg-pretrained, vgg-probe) is trained
for one epoch on generated tones first: speed does not depend on how well a model was trained.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from classicfy.data.synthetic import tone_recording, write_tone_dataset

DEMO_MODELS = "cnn,gru,vgg,vgg-pretrained,vgg-probe"
# The CLI in a child process that reports its own peak resident memory at exit (Linux: VmHWM, kB).
# Not getrusage: its ru_maxrss survives fork and exec, so it would count this (training) process.
MEASURED_CLI = (
    "import re, sys; from classicfy.cli import main; code = main(sys.argv[1:]); "
    "status = open('/proc/self/status').read(); "
    "print('peak_rss_kb', re.search(r'VmHWM:\\s*(\\d+)', status).group(1), file=sys.stderr); sys.exit(code)"
)


def write_long_recording(path: Path, minutes: float, rate: int = 44100) -> None:
    """Stereo tones, written a minute at a time (the whole file never sits in memory)."""
    rng = np.random.default_rng(0)
    with soundfile.SoundFile(path, "w", rate, 2) as sound:
        for minute in range(int(np.ceil(minutes))):
            seconds = min(60.0, minutes * 60 - minute * 60)
            left = tone_recording(rng, seconds, rate, (200.0, 800.0))
            sound.write(np.stack([left, np.roll(left, 7)], axis=1))


def train_small_run(root: Path, models: str = DEMO_MODELS) -> Path:
    """A run of `models` trained for one epoch on generated tones: speed does not depend on how well it learnt."""
    from classicfy.cli import main

    data = root / "data"
    write_tone_dataset(data, works_per_label=3, recordings_per_work=2, seconds=20.0)
    run = root / "run"
    args = ["train", str(data), "--out", str(run), "--models", models, "--epochs", "1",
            "--cache", str(root / "cache"), "--no-progress"]  # fmt: skip
    with contextlib.redirect_stdout(sys.stderr):  # stdout is for the benchmark's table
        code = main(args)
    if code != 0:
        sys.exit("training the benchmark run failed")
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, help="a trained run (default: train a small one with the demo's models)")
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--format", choices=("mp3", "flac", "wav"), default="mp3")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "predict.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run = args.run or train_small_run(root)
        recording = root / f"long.{args.format}"
        write_long_recording(recording, args.minutes)
        command = [sys.executable, "-c", MEASURED_CLI, "predict", str(run), str(recording), "--format", "json",
                   "--no-progress", "--jobs", str(args.jobs)]  # fmt: skip
        times, peaks, windows = [], [], 0
        for _ in range(args.repeats):
            start = time.perf_counter()
            done = subprocess.run(command, check=True, capture_output=True, text=True)
            times.append(time.perf_counter() - start)
            windows = json.loads(done.stdout)[0]["windows"]
            peaks.append(int(done.stderr.rsplit("peak_rss_kb", 1)[1]))
        members = json.loads((run / "models" / "ensemble.json").read_text())["members"]
    peak_mb = max(peaks) / 1024
    seconds = args.minutes * 60
    result = {
        "audio_seconds": seconds,
        "format": args.format,
        "models": members,
        "windows": windows,
        "median_seconds": statistics.median(times),
        "times": times,
        "realtime_factor": seconds / statistics.median(times),
        "peak_rss_mb": peak_mb,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"| recording | ensemble | wall time (median of {args.repeats}) | real-time factor | peak memory |")
    print("|---|---|---:|---:|---:|")
    print(
        f"| {args.minutes:g} min {args.format}, 44.1 kHz stereo | {' + '.join(members)} | "
        f"{result['median_seconds']:.1f} s | {result['realtime_factor']:.0f}x | {peak_mb:.0f} MB |"
    )


if __name__ == "__main__":
    main()
