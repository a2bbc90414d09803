"""Faults during `classicfy features --jobs 2`: SIGTERM and kill -9 leave no worker behind, and a
rerun completes the cache as a clean run fills it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from helpers import write


def _children(pid: int) -> set[int]:
    """Every live descendant of `pid`, read from /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":  # a zombie has ended; only its parent has not yet collected it
            alive.add(pid)
    return alive


@pytest.fixture(scope="module")
def many_recordings(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("many")
    rng = np.random.default_rng(0)
    for i in range(240):
        write(root / f"l{i % 3}" / f"w{i}" / "a.flac", (0.1 * rng.standard_normal(22050 * 12)).astype(np.float32))
    return root


def _features(data: Path, cache: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "classicfy.cli", "features", str(data), "--cache", str(cache), "--jobs", "2"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _workers_started(process: subprocess.Popen, count: int = 3) -> set[int]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        children = _children(process.pid)
        if len(children) >= count:
            time.sleep(1.0)  # the forkserver and two workers: let them take some recordings first
            return _children(process.pid)
        time.sleep(0.1)
    pytest.fail("the pool never started")


def _cache_files(cache: Path) -> dict[str, bytes]:
    return {str(p.relative_to(cache)): p.read_bytes() for p in sorted(cache.rglob("*.npy"))}


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_workers_end_with_their_parent_and_a_rerun_completes_the_cache(many_recordings, tmp_path, how):
    """Issue 23, defect 5: after SIGTERM or kill -9, the pool's workers kept running for 35-45 s."""
    process = _features(many_recordings, tmp_path / "cache")
    workers = _workers_started(process)
    os.kill(process.pid, how)
    process.wait(timeout=20)
    if how == signal.SIGTERM:
        assert process.returncode == 143 and "terminated" in process.stderr.read()
    deadline = time.monotonic() + 5
    while _alive(workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(workers), "workers outlived their parent"
    rerun = _features(many_recordings, tmp_path / "cache")
    assert rerun.wait(timeout=300) == 0
    clean = _features(many_recordings, tmp_path / "clean")
    assert clean.wait(timeout=300) == 0
    assert _cache_files(tmp_path / "cache") == _cache_files(tmp_path / "clean")


@pytest.mark.slow
def test_cached_features_are_bit_identical_whatever_the_number_of_jobs(tone_dataset, tmp_path):
    """Issue 23, defect 10: in-process and worker extraction differed by up to 3.8e-6."""
    from classicfy.cli import main

    for jobs in ("1", "2"):
        assert main(["features", str(tone_dataset), "--cache", str(tmp_path / jobs), "--jobs", jobs, "-q"]) == 0
    one, two = _cache_files(tmp_path / "1"), _cache_files(tmp_path / "2")
    assert one and one == two


@pytest.mark.slow
def test_a_killed_corpus_build_leaves_no_renderer_and_no_half_written_flac(tmp_path):
    import soundfile

    command = [sys.executable, "-m", "classicfy.cli", "corpus", "build", "--out", str(tmp_path / "corpus"),
               "--composers", "beethoven", "--max-pieces-per-composer", "3", "--jobs", "2", "-q"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    renderers = _workers_started(process, count=2)  # quartets: minutes of rendering each
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=20)
    deadline = time.monotonic() + 5
    while _alive(renderers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(renderers), "renderers outlived the build"
    for flac in (tmp_path / "corpus").rglob("*.flac"):  # whatever was written is whole
        assert soundfile.info(flac).duration > 1


@pytest.mark.slow
@pytest.mark.parametrize("after_s", [1.0, 2.5, 4.0])
def test_a_killed_evaluation_leaves_no_half_written_metrics_or_report(trained, tmp_path, after_s):
    import json
    import shutil

    _, run, cache = trained
    copy = tmp_path / "RUN"
    shutil.copytree(run, copy)
    for written in ("metrics.json", "report.html", "predictions.csv", "windows.safetensors"):
        (copy / written).unlink(missing_ok=True)
    command = [sys.executable, "-m", "classicfy.cli", "evaluate", str(copy), "--cache", str(cache), "-q"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(after_s)
    process.kill()
    process.wait(timeout=20)
    if (copy / "metrics.json").exists():
        assert "ensemble" in json.loads((copy / "metrics.json").read_text())
    if (copy / "report.html").exists():
        assert (copy / "report.html").read_text().rstrip().endswith("</html>")


def test_output_to_a_closed_pipe_ends_quietly(trained, monkeypatch, capsys):
    """Issue 23, defect 6: `classicfy predict ... | head` printed a BrokenPipeError traceback."""
    from classicfy.cli import main

    data, run, _ = trained
    read, write_end = os.pipe()
    os.close(read)  # the reader (head) has gone
    closed = os.fdopen(write_end, "w")
    monkeypatch.setattr(sys, "stdout", closed)
    try:
        assert main(["predict", str(run), str(data), "--format", "csv"]) == 141
    finally:
        monkeypatch.undo()
    assert "Traceback" not in capsys.readouterr().err
