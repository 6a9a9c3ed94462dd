"""Issue 14.17: files ftcore writes atomically follow the umask like every other file."""

from __future__ import annotations

import os
import stat

import pytest

from ftcore.io import atomic_write_json, atomic_write_text


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_atomic_writes_follow_the_umask(tmp_path, mask):
    before = os.umask(mask)
    try:
        atomic_write_text(tmp_path / "recipe.yaml", "a: 1\n")
        atomic_write_json(tmp_path / "metrics.json", {"a": 1})
        (tmp_path / "plain.txt").write_text("x")
    finally:
        os.umask(before)
    expected = stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode)
    assert expected == 0o666 & ~mask
    for name in ("recipe.yaml", "metrics.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == expected, name
