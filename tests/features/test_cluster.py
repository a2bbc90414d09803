"""Features on a Dask cluster: the same cache bytes as a local run, nothing lost with a worker, and a
parent whose memory does not grow with the dataset."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from classicfy.cli import main
from classicfy.data.synthetic import write_tone_dataset
from helpers import free_port


def _cache_files(root: Path) -> dict[str, bytes]:
    """Every cache entry's files. A worker killed mid-write leaves its `.NAME.*.tmp` folder, which
    no reader takes for an entry: not counted."""
    files = [p for p in sorted(root.rglob("*")) if p.is_file()]
    entries = [p for p in files if not any(part.endswith(".tmp") for part in p.parts)]
    return {str(p.relative_to(root)): p.read_bytes() for p in entries}


def _features(data: Path, cache: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "classicfy", "features", str(data), "--cache", str(cache), "--window", "1",
            "--no-progress", *options]  # fmt: skip


@pytest.mark.slow
def test_a_cache_filled_on_a_dask_cluster_is_byte_identical_to_one_filled_locally(tone_dataset, tmp_path):
    assert main(_features(tone_dataset, tmp_path / "C1", "--cluster", "dask", "--jobs", "2")[3:]) == 0
    assert main(_features(tone_dataset, tmp_path / "C2", "--jobs", "1")[3:]) == 0
    cluster, local = _cache_files(tmp_path / "C1"), _cache_files(tmp_path / "C2")
    assert len(local) > 18 and cluster == local


def test_a_scheduler_that_does_not_answer_is_one_line_and_exit_2(tone_dataset, tmp_path, capsys):
    port = free_port()  # nothing listens there
    args = ["features", str(tone_dataset), "--cache", str(tmp_path / "C"), "--cluster", f"tcp://127.0.0.1:{port}"]
    assert main(args) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "no Dask scheduler answers there" in error[0]


@pytest.mark.slow
def test_a_worker_killed_mid_way_loses_nothing(tmp_path):
    data = tmp_path / "data"
    write_tone_dataset(data, works_per_label=20, recordings_per_work=2, seconds=20.0)
    running = subprocess.Popen(_features(data, tmp_path / "C1", "--cluster", "dask", "--jobs", "2"))
    killed = None
    deadline = time.monotonic() + 60
    while killed is None and time.monotonic() < deadline and running.poll() is None:
        time.sleep(0.2)
        children = psutil.Process(running.pid).children()
        workers = [child for child in children if "resource_tracker" not in " ".join(child.cmdline())]
        if len(workers) == 2 and len(list((tmp_path / "C1").rglob("meta.json"))) > 5:
            killed = workers[0].pid
            os.kill(killed, 9)
    assert killed is not None, "no worker was found at work"
    assert running.wait(timeout=300) == 0
    assert subprocess.run(_features(data, tmp_path / "C2", "--jobs", "2")).returncode == 0
    assert _cache_files(tmp_path / "C1") == _cache_files(tmp_path / "C2")


# The peak resident memory of this process alone (VmHWM): getrusage's ru_maxrss survives fork and
# exec, so it would report pytest's own.
PEAK_SCRIPT = """
import re, sys
from classicfy.cli import main
assert main(sys.argv[1:]) == 0
print(re.search(r"VmHWM:\\s*(\\d+)", open("/proc/self/status").read()).group(1))
"""


@pytest.mark.slow
def test_the_parents_memory_stays_flat_as_the_dataset_grows(tmp_path):
    peaks = {}
    for works in (4, 34):  # 3 labels x works x 2 recordings: 24 and 204
        data = tmp_path / f"data{works}"
        write_tone_dataset(data, works_per_label=works, recordings_per_work=2, seconds=2.0)
        command = [sys.executable, "-c", PEAK_SCRIPT, *_features(data, tmp_path / f"C{works}", "--jobs", "1")[3:]]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        peaks[works] = int(done.stdout.split()[-1])
    assert peaks[34] <= 1.2 * peaks[4], peaks
