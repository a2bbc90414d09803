"""How classicfy uses the hardware it is given: processes, a Dask cluster, torchrun ranks, a GPU.

    python bench/scale.py [--device auto] [--minutes 12] [--epochs 3] [--models cnn,gru,vgg]
                          [--predict-minutes 60]

Prints, on the device `--device` resolves to (and says which):

- feature extraction of generated recordings (--minutes of audio, 30 s files) with 1 and 2 local
  processes and with a Dask LocalCluster of 2 workers, as a real-time factor (seconds of audio per
  second), each from an empty cache;
- each model's training and inference throughput (10 s windows per second) through classicfy,
  beside a bare PyTorch loop of the same architecture on random tensors of the same shape, batch
  and precision on the same device; classicfy's share of the bare loop shows what feeding the data
  costs;
- training windows per second of the CNN on 1 and 2 torchrun ranks (CPU, gloo);
- on CUDA, `predict` of a --predict-minutes recording (wall time, real-time factor).
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
import torch

from classicfy.config import AugmentConfig, RunConfig, TrainConfig, feature_config_for
from classicfy.data.synthetic import write_tone_dataset
from classicfy.devices import resolve_device, training_precision
from classicfy.features.cache import FeatureCache
from classicfy.features.inputs import WindowSet
from classicfy.models import MODELS
from classicfy.models.trained import predict_logits
from classicfy.training.pipeline import train_run
from classicfy.workspace import Workspace

BATCH, INFERENCE_BATCH, STEPS = 32, 64, 20


def timed_features(data: Path, cache: Path, *options: str) -> float:
    command = [sys.executable, "-m", "classicfy", "features", str(data), "--cache", str(cache), "--no-progress"]
    start = time.perf_counter()
    subprocess.run([*command, *options], check=True, capture_output=True)
    return time.perf_counter() - start


def feature_rows(data: Path, seconds_of_audio: float, tmp: Path) -> list[tuple[str, str]]:
    runs = {"1 process": ("--jobs", "1"), "2 processes": ("--jobs", "2"),
            "Dask LocalCluster, 2 workers": ("--cluster", "dask", "--jobs", "2")}  # fmt: skip
    rows = []
    for index, (name, options) in enumerate(runs.items()):
        wall = timed_features(data, tmp / f"features-{index}", *options)
        rows.append((f"features, {name}", f"{seconds_of_audio / wall:.0f}x real time"))
    return rows


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bare_training(name: str, shape: tuple[int, ...], n_classes: int, device: torch.device) -> float:
    """Windows per second of the architecture's training steps on random tensors, nothing else."""
    model = MODELS[name](shape, n_classes).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    precision = training_precision("auto", device, model.prefers_bf16)
    scaler = precision.grad_scaler()
    inputs = torch.randn(BATCH, *shape, device=device)
    targets = torch.randint(0, n_classes, (BATCH,), device=device)

    def step() -> None:
        with precision.autocast():
            loss = torch.nn.functional.cross_entropy(model(inputs).float(), targets)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    for _ in range(3):
        step()
    _synchronise(device)
    start = time.perf_counter()
    for _ in range(STEPS):
        step()
    _synchronise(device)
    return STEPS * BATCH / (time.perf_counter() - start)


@torch.no_grad()
def bare_inference(model: torch.nn.Module, shape: tuple[int, ...], device: torch.device) -> float:
    inputs = torch.randn(INFERENCE_BATCH, *shape, device=device)
    model.eval()(inputs)
    _synchronise(device)
    start = time.perf_counter()
    for _ in range(STEPS // 2):
        model(inputs)
    _synchronise(device)
    return STEPS // 2 * INFERENCE_BATCH / (time.perf_counter() - start)


def model_rows(data: Path, models: tuple[str, ...], epochs: int, device: torch.device, tmp: Path) -> list:
    config = RunConfig(
        data=str(data),
        models=models,
        train=TrainConfig(epochs=epochs, patience=epochs),
        augment=AugmentConfig(copies=0),
    )
    work = Workspace(tmp / "cache", 2, False, device=str(device))
    result = train_run(config, tmp / "run", work)
    hashes = list(result.report.content_hashes().values())
    rows = []
    for name in models:
        state, family = result.states[name], MODELS[name]
        ours = statistics.median(row["windows_per_s"] for row in state.history[1:] or state.history)
        features = feature_config_for(family.input_kind, config.features)
        cache = FeatureCache(work.cache, features)
        windows = WindowSet([cache.get(h) for h in hashes], [0] * len(hashes), family.input_kind)
        shape = windows.input_shape
        bare = bare_training(name, shape, len(result.labels), device)
        rows.append((f"{name} training", f"{ours:.0f} windows/s; bare loop {bare:.0f}; share {ours / bare:.0%}"))
        model = family(shape, len(result.labels)).to(device)
        start = time.perf_counter()
        predict_logits(model, windows, INFERENCE_BATCH)
        ours = len(windows) / (time.perf_counter() - start)
        bare = bare_inference(model, shape, device)
        rows.append((f"{name} inference", f"{ours:.0f} windows/s; bare loop {bare:.0f}; share {ours / bare:.0%}"))
    return rows


def torchrun_rows(data: Path, epochs: int, tmp: Path) -> list[tuple[str, str]]:
    rows = []
    for ranks in (1, 2):
        run = tmp / f"ranks-{ranks}"
        command = [sys.executable, "-m", "classicfy", "train", str(data), "--out", str(run), "--models", "cnn",
                   "--epochs", str(epochs), "--cache", str(tmp / "cache"), "--device", "cpu", "--no-progress",
                   "--augment-copies", "0", "--nproc", str(ranks)]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True)
        history = (run / "history" / "cnn.csv").read_text().splitlines()[1:]
        rates = [float(line.split(",")[8]) for line in history]
        rows.append((f"cnn training, {ranks} torchrun rank{'s' if ranks > 1 else ''} (CPU, gloo)",
                     f"{statistics.median(rates[1:] or rates):.0f} windows/s"))  # fmt: skip
    return rows


def predict_rows(run: Path, minutes: float, device: torch.device, tmp: Path) -> list[tuple[str, str]]:
    import soundfile

    rate = 22050
    path = tmp / "long.flac"
    seconds = np.arange(int(minutes * 60 * rate)) / rate
    soundfile.write(path, (0.3 * np.sin(2 * np.pi * 220 * seconds)).astype(np.float32), rate)
    command = [sys.executable, "-m", "classicfy", "predict", str(run), str(path), "--device", str(device),
               "--no-progress", "--format", "json"]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    wall = time.perf_counter() - start
    return [(f"predict, a {minutes:g}-minute recording", f"{wall:.1f} s, {minutes * 60 / wall:.0f}x real time")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--minutes", type=float, default=12.0, help="minutes of generated audio")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--models", default="cnn,gru,vgg")
    parser.add_argument("--predict-minutes", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "scale.json")
    args = parser.parse_args()
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} CPU threads"
    print(f"device: {device} ({name})")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        data = tmp / "data"
        files = max(6, int(args.minutes * 2))  # 30 s each
        write_tone_dataset(data, works_per_label=max(2, files // 6), recordings_per_work=2, seconds=30.0)
        seconds_of_audio = 30.0 * len(list(data.rglob("*.flac")))
        rows = feature_rows(data, seconds_of_audio, tmp)
        rows += model_rows(data, tuple(args.models.split(",")), args.epochs, device, tmp)
        rows += torchrun_rows(data, args.epochs, tmp)
        if device.type == "cuda":
            rows += predict_rows(tmp / "run", args.predict_minutes, device, tmp)
    print("| figure | value |")
    print("|---|---|")
    for figure, value in rows:
        print(f"| {figure} | {value} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"device": f"{device} ({name})", "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
