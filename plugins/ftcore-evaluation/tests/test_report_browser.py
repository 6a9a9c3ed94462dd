"""report.html in headless Chromium: it renders, every image loads, no console errors.

Needs Debian's ``chromium`` package (``bash scripts/setup.sh --test`` installs it);
skipped without it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="Debian's chromium is not installed (bash scripts/setup.sh --test installs it)",
)

# Counts the images that decoded; added to a copy of the report only (the report has no JS).
PROBE = (
    "<script>window.addEventListener('load', function () {"
    "var all = Array.from(document.images);"
    "var ok = all.filter(function (i) { return i.complete && i.naturalWidth > 0; });"
    "document.body.setAttribute('data-images', all.length + '/' + ok.length);});</script>"
)


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def screenshot(page: Path, tmp_path: Path, name: str) -> tuple[Path, list[str]]:
    shot = tmp_path / f"{name}.png"
    done = chromium(
        tmp_path / f"profile-{name}",
        "--enable-logging=stderr",
        "--v=0",
        f"--screenshot={shot}",
        "--window-size=1200,2400",
        page.as_uri(),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return shot, console_messages(done.stderr)


def test_console_errors_are_detected(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<html><body><p>x</p><script>missingFunction();</script></body></html>")
    _, messages = screenshot(page, tmp_path, "broken")
    assert any("Uncaught ReferenceError" in m for m in messages)


def test_report_renders_with_images_and_no_console_errors(evaluated_run, tmp_path):
    import matplotlib.image

    report = evaluated_run.run_dir / "report.html"
    shot, messages = screenshot(report, tmp_path, "report")
    assert messages == []
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (2400, 1200) and pixels[..., :3].std() > 0.05  # not blank
    probe = tmp_path / "probe.html"
    html = report.read_text(encoding="utf-8")
    probe.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = chromium(
        tmp_path / "profile-dom", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()
    )
    images = len(re.findall(r"<img ", html))
    assert images >= 5
    assert f'data-images="{images}/{images}"' in dom.stdout
    assert "Run report" in dom.stdout and "Baseline vs fine-tuned" in dom.stdout


# Counts what of the (opened) model card section has a size on screen.
CARD_PROBE = (
    "<script>window.addEventListener('load', function () {"
    "var card = document.querySelector('details');"
    "function shown(tag) { return Array.from(card.querySelectorAll(tag))"
    ".filter(function (e) { return e.offsetHeight > 0; }).length; }"
    "document.body.setAttribute('data-card',"
    "shown('h3') + '/' + shown('h4') + '/' + shown('table') + '/' + shown('pre'));});</script>"
)


def test_model_card_section_renders(evaluated_run, tmp_path):
    """The report's "Model card" section shows model/README.md: metadata, then the text."""
    html = (evaluated_run.run_dir / "report.html").read_text(encoding="utf-8")
    assert html.count("<details>") == 2  # the card, and the full recipe inside it
    opened = tmp_path / "card.html"
    opened.write_text(html.replace("<details>", "<details open>"), encoding="utf-8")
    _, messages = screenshot(opened, tmp_path, "card")
    assert messages == []
    probe = tmp_path / "card-probe.html"
    probe.write_text(
        html.replace("<details>", "<details open>").replace("</body>", CARD_PROBE + "</body>"),
        encoding="utf-8",
    )
    dom = chromium(
        tmp_path / "profile-card", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()
    ).stdout
    # the card's title, its 8 parts, its tables (data, recipe, metrics, forgetting) and its
    # code blocks (metadata, recipe, the two usage examples) all take room on the page
    assert 'data-card="1/8/4/4"' in dom
    assert "<h2>Model card</h2>" in dom and "model-index:" in dom
    assert "<h4>Baseline verdict</h4>" in dom and "Strongest baseline" in dom
