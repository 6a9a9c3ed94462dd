"""A wheel of ftcore (not an editable install) ships the recipes: installed from the
wheel, ``ftcore recipes`` lists them and ``ftcore validate`` checks them, from a folder
outside the repository."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p.stem for p in (REPO / "recipes").glob("*.yaml") if not p.stem.startswith("_"))


@pytest.fixture(scope="module")
def wheel_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ftcore built as a wheel and installed into a folder of its own."""
    root = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", root / "dist", REPO],
        check=True,
        cwd=root,
    )
    (wheel,) = (root / "dist").glob("ftcore-*.whl")
    site = root / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", site, wheel], check=True)
    return site


def _ftcore(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FTCORE_")}
    env["PYTHONPATH"] = str(site)  # before the editable checkout on sys.path
    code = "import sys, ftcore.cli; print(ftcore.cli.__file__, file=sys.stderr); "
    code += "sys.exit(ftcore.cli.main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_wheel_lists_and_validates_the_shipped_recipes(wheel_site: Path, tmp_path: Path):
    listed = _ftcore(wheel_site, tmp_path, "recipes")
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr.splitlines()[0].startswith(str(wheel_site)), "not the wheel's ftcore"
    names = {line.split()[0] for line in listed.stdout.splitlines() if line.strip()}
    assert set(SHIPPED) <= names
    for name in SHIPPED:
        checked = _ftcore(wheel_site, tmp_path, "validate", name)
        assert checked.returncode == 0, (name, checked.stderr)
    shown = _ftcore(wheel_site, tmp_path, "recipes", "show", "smoke")
    assert "extends: sentiment-rotten-tomatoes" in shown.stdout
