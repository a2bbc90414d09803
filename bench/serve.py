"""A bounded load test of `classicfy serve`, on loopback only: it sends a fixed number of requests
and stops by itself.

    python bench/serve.py RUN [--requests 200] [--concurrency 8] [--seconds 30]

Starts `classicfy serve RUN` on a free port with `--max-concurrent` equal to the concurrency,
posts a generated recording of --seconds seconds --requests times from --concurrency clients at
once, and prints throughput, p50/p95/p99 latency, errors and the server's peak resident memory.
Then it serves again with `--max-concurrent 2` under the same load and counts the requests refused
with 503 (the server must refuse, not fail).
"""

from __future__ import annotations

import argparse
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import soundfile


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_recording(path: Path, seconds: float, rate: int = 22050) -> None:
    t = np.arange(int(seconds * rate)) / rate
    tones = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6))
    soundfile.write(path, (0.2 * tones).astype(np.float32), rate)


def start_server(run: Path, port: int, max_concurrent: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "classicfy", "serve", str(run), "--port", str(port),
               "--max-concurrent", str(max_concurrent)]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(240):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.25)
    server.kill()
    raise SystemExit("the server did not start")


def peak_memory_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s*(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]


def load(port: int, recording: Path, requests: int, concurrency: int) -> tuple[list[float], dict[int, int], float]:
    """Latencies of the answered requests, the count of each status, and the wall time."""
    body = recording.read_bytes()
    url = f"http://127.0.0.1:{port}/v1/predict"

    def one(_: int) -> tuple[int, float]:
        start = time.perf_counter()
        try:
            answer = httpx.post(url, files={"file": (recording.name, body)}, timeout=600)
            return answer.status_code, time.perf_counter() - start
        except httpx.TransportError:
            return 0, time.perf_counter() - start

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(requests)))
    wall = time.perf_counter() - start
    statuses: dict[int, int] = {}
    for status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    return [latency for status, latency in results if status == 200], statuses, wall


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        recording = Path(folder) / "recording.flac"
        write_recording(recording, args.seconds)
        for max_concurrent in (args.concurrency, 2):
            port = free_port()
            server = start_server(args.run, port, max_concurrent)
            try:
                latencies, statuses, wall = load(port, recording, args.requests, args.concurrency)
                memory = peak_memory_mb(server.pid)
            finally:
                server.terminate()
                server.wait(timeout=60)
            answered = statuses.get(200, 0)
            errors = sum(n for status, n in statuses.items() if status not in (200, 503))
            print(f"--max-concurrent {max_concurrent}: {args.requests} requests of a {args.seconds:g} s recording, "
                  f"{args.concurrency} at once")  # fmt: skip
            print(f"  answered {answered}, refused with 503: {statuses.get(503, 0)}, errors: {errors}")
            if latencies:
                print(f"  throughput {answered / wall:.2f} requests/s ({answered * args.seconds / wall:.0f}x real "
                      f"time); latency p50 {percentile(latencies, 50):.2f} s, p95 {percentile(latencies, 95):.2f} s, "
                      f"p99 {percentile(latencies, 99):.2f} s (mean {statistics.mean(latencies):.2f} s)")  # fmt: skip
            print(f"  server peak memory {memory:.0f} MB")


if __name__ == "__main__":
    main()
