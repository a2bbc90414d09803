from __future__ import annotations

import fcntl
import os
import pty
import shutil
import struct
import subprocess
import sys
import termios

import numpy as np
import pytest

from classicfy.cli import main
from helpers import run_cli, write


@pytest.mark.slow
def test_features_names_every_bad_file_and_second_run_hits_the_cache(tone_dataset, tmp_path, capsys):
    (tone_dataset / "low" / "work00" / "corrupt.wav").write_bytes(b"RIFF" + bytes(300))
    (tone_dataset / "mid" / "empty.flac").touch()
    write(tone_dataset / "high" / "silence.flac", np.zeros(44100, np.float32))
    (tone_dataset / "high" / "notes.txt").write_text("programme notes")
    write(tone_dataset / "high" / "blip.flac", np.full(4000, 0.1, np.float32))
    cache = tmp_path / "cache"

    assert main(["features", str(tone_dataset), "--cache", str(cache), "--jobs", "2", "--window", "2"]) == 0
    first = capsys.readouterr().out
    assert "recordings: 18 usable of 23 (0 from cache), 3 labels" in first
    assert "windows:    18 of 2 s" in first
    for name, reason in [
        ("corrupt.wav", "corrupt"),
        ("empty.flac", "empty (0 bytes)"),
        ("silence.flac", "silent"),
        ("notes.txt", "not-audio"),
        ("blip.flac", "too-short"),
    ]:
        assert f"{name}: {reason}" in first

    assert main(["features", str(tone_dataset), "--cache", str(cache), "--jobs", "1", "--window", "2"]) == 0
    second = capsys.readouterr().out
    assert "18 usable of 23 (18 from cache)" in second
    assert second.splitlines()[1:] == first.splitlines()[1:]


def test_missing_dataset_exits_2_with_one_line_and_no_traceback(tmp_path):
    result = run_cli("features", "/no/such/dir", "--cache", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip() == "classicfy: error: dataset not found: /no/such/dir"


def test_nothing_usable_exits_2(tmp_path, capsys):
    (tmp_path / "data" / "x").mkdir(parents=True)
    (tmp_path / "data" / "x" / "a.wav").write_bytes(b"junk")
    assert main(["features", str(tmp_path / "data"), "--cache", str(tmp_path / "c")]) == 2
    assert "no usable recordings" in capsys.readouterr().err


def test_same_audio_under_two_labels_exits_2_but_keeps_the_cached_work(tone_dataset, tmp_path, capsys):
    original = tone_dataset / "low" / "work00" / "00.flac"
    shutil.copy(original, tone_dataset / "high" / "copy.flac")
    cache = tmp_path / "cache"
    args = ["features", str(tone_dataset), "--cache", str(cache), "--jobs", "1", "--window", "2", "--no-progress"]
    assert main(args) == 2
    error = capsys.readouterr().err
    assert str(original) in error and "copy.flac" in error
    (tone_dataset / "high" / "copy.flac").unlink()
    assert main(args) == 0
    assert "(18 from cache)" in capsys.readouterr().out


def test_a_bad_window_is_refused_before_the_builtin_corpus_is_built(tmp_path, capsys):
    assert main(["features", "builtin:composers", "--window", "0.5", "--cache", str(tmp_path / "c")]) == 2
    assert "window_s must be at least 1.0 s" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


@pytest.mark.slow
def test_summary_counts_silent_windows_dropped(tmp_path, capsys):
    from helpers import sine

    write(tmp_path / "data" / "a" / "gap.flac", np.concatenate([sine(2.0), np.zeros(44100, np.float32), sine(2.0)]))
    write(tmp_path / "data" / "b" / "tone.flac", sine(6.0, 220.0))
    args = ["features", str(tmp_path / "data"), "--cache", str(tmp_path / "c"), "--window", "2", "--no-progress"]
    assert main(args) == 0
    assert "windows:    5 of 2 s (1 silent windows dropped)" in capsys.readouterr().out
    assert main(args) == 0  # the count survives the cache
    assert "(1 silent windows dropped)" in capsys.readouterr().out


def _features_command(data, cache) -> list[str]:
    return [sys.executable, "-m", "classicfy.cli", "features", str(data), "--cache", str(cache), "--jobs", "1"]


def test_features_piped_prints_no_progress_bar_but_a_terminal_gets_one(tone_dataset, tmp_path):
    """The acceptance command `classicfy features DATA | cat`: no carriage returns or escape codes
    anywhere when stdout and stderr are not terminals; the same command on a terminal draws bars."""
    piped = subprocess.run(_features_command(tone_dataset, tmp_path / "c1"), capture_output=True, timeout=300)
    assert piped.returncode == 0
    for text in (piped.stdout, piped.stderr):
        assert b"\r" not in text and b"\x1b[" not in text
    assert b"recordings: 18 usable of 18" in piped.stdout
    leader, follower = pty.openpty()  # a terminal on stderr, as when run by hand
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # tqdm draws nothing 0 wide
    child = subprocess.Popen(_features_command(tone_dataset, tmp_path / "c2"), stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)  # the child holds the only other end: reading stops when it exits
    drawn = b""
    while chunk := _read_available(leader):
        drawn += chunk
    os.close(leader)
    assert child.wait(timeout=300) == 0 and child.stdout is not None and child.stdout.read()
    assert b"\r" in drawn and b"features:" in drawn


def _read_available(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # the terminal's other end is closed: all was read
        return b""
