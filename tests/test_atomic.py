from __future__ import annotations

import os

from classicfy import atomic


def test_atomic_writes_make_ordinary_files(tmp_path):
    atomic.write_text(tmp_path / "report.html", "<html></html>")
    with atomic.new_directory(tmp_path / "entry") as tmp:
        (tmp / "a.npy").write_bytes(b"x")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "report.html").stat().st_mode & 0o777 == 0o666 & ~mask
    assert (tmp_path / "entry").stat().st_mode & 0o777 == 0o777 & ~mask
