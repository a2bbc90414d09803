"""Feature extraction speed: classicfy against the straightforward librosa approach, and the cache.

    python bench/features.py [--minutes 40] [--repeats 3]

1. Per file, in this process, one thread: `librosa.load` + `melspectrogram` + `mfcc` + `chroma_stft`
   (three STFTs and a tuning estimate) against classicfy's decode + one STFT per window. Both are
   warmed up first; the figure is the median over repeats of the whole set, and their ratio.
2. `classicfy features DATA --cache C --jobs 2` on a generated dataset of --minutes minutes (three
   labels, plus one corrupt and one zero-byte file), run cold and then again on the warm cache.
3. `classicfy --help` wall time.
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

from threadpoolctl import threadpool_limits

from classicfy.config import FeatureConfig
from classicfy.data.synthetic import write_tone_dataset
from classicfy.features.spectral import AudioFeatureExtractor


def naive(path: Path) -> None:
    import librosa

    y, sr = librosa.load(path, sr=22050)
    librosa.feature.melspectrogram(y=y, sr=sr)
    librosa.feature.mfcc(y=y, sr=sr)
    librosa.feature.chroma_stft(y=y, sr=sr)


def timed(function, *args) -> float:
    """Wall time of one call, in seconds; a command that fails stops the benchmark."""
    start = time.perf_counter()
    result = function(*args)
    if isinstance(result, subprocess.CompletedProcess) and result.returncode:
        raise SystemExit(f"{result.args} exited {result.returncode}")
    return time.perf_counter() - start


def run_quietly(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True)


def make_dataset(root: Path, minutes: float) -> None:
    seconds = 100.0
    works = max(1, round(minutes * 60 / seconds / 3 / 2))
    write_tone_dataset(root, works_per_label=works, recordings_per_work=2, seconds=seconds)
    (root / "low" / "corrupt.wav").write_bytes(b"RIFF" + bytes(1000))
    (root / "mid" / "empty.flac").touch()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=40.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "features.json")
    args = parser.parse_args()
    results: dict[str, float] = {}

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        make_dataset(data, args.minutes)
        files = sorted(data.glob("*/work0[0-1]/*.flac"))  # a 10-minute sample for the per-file race
        audio_s = 100.0 * len(files)
        extractor = AudioFeatureExtractor(FeatureConfig())
        with threadpool_limits(1):
            naive(files[0])
            extractor.extract(files[0])
            naive_s, ours_s = [], []
            for _ in range(args.repeats):
                naive_s.append(timed(lambda: [naive(f) for f in files]))
                ours_s.append(timed(lambda: [extractor.extract(f) for f in files]))
        results["per_file_audio_s"] = audio_s
        results["naive_s"] = statistics.median(naive_s)
        results["classicfy_s"] = statistics.median(ours_s)
        results["speedup"] = statistics.median(n / o for n, o in zip(naive_s, ours_s, strict=True))

        cold, warm = [], []
        for repeat in range(args.repeats):
            cache = Path(tmp) / f"cache{repeat}"
            command = ["classicfy", "features", str(data), "--cache", str(cache), "--jobs", "2", "--no-progress"]
            cold.append(timed(run_quietly, command))
            warm.append(timed(run_quietly, command))
        results["dataset_minutes"] = args.minutes
        results["cold_run_s"] = statistics.median(cold)
        results["warm_run_s"] = statistics.median(warm)
        results["warm_over_cold"] = statistics.median(w / c for w, c in zip(warm, cold, strict=True))
        results["help_s"] = statistics.median(timed(run_quietly, ["classicfy", "--help"]) for _ in range(5))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print("| measure | value |\n|---|---|")
    print(f"| naive librosa, {audio_s / 60:.0f} min of audio, 1 thread | {results['naive_s']:.2f} s |")
    print(f"| classicfy extractor, same files | {results['classicfy_s']:.2f} s |")
    print(f"| speed-up | {results['speedup']:.1f}x |")
    print(f"| `classicfy features`, {args.minutes:g} min, --jobs 2, cold cache | {results['cold_run_s']:.2f} s |")
    print(f"| same, warm cache | {results['warm_run_s']:.2f} s ({results['warm_over_cold']:.2f} of cold) |")
    print(f"| `classicfy --help` | {results['help_s']:.3f} s |")


if __name__ == "__main__":
    sys.exit(main())
