"""The monthly report opened in headless Chromium (Debian's chromium), in English and Japanese.

The screenshots are kept as test artifacts in tests/output/report/, or in the directory named by
OPSRUN_REPORT_ARTIFACTS. Nothing is fetched from the network: the report is a local file that
needs nothing else.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from opsrun.output import GlobalOptions

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "opsrun"))

from report_fixtures import MONTH, build_month_store, write_ops_file

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("OPSRUN_REPORT_ARTIFACTS") or ROOT / "tests" / "output" / "report")
SECTIONS = (
    "summary",
    "availability",
    "trends",
    "incidents",
    "patches",
    "backups",
    "restarts",
    "changes",
    "scope",
)
# Chromium's messages when a page fails to load something or its script fails.
LOAD_ERRORS = ("net::ERR_", "Failed to load resource", "Uncaught", "Not allowed to load local resource")
CELL = 48

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is not installed; install the Debian package chromium (tests/setup-system.sh)")
    return path


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def _chromium(chromium: str, profile: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--enable-logging=stderr",
            "--log-level=0",
            f"--user-data-dir={profile}",
            *arguments,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from opsrun.commands.report import report  # noqa: PLC0415

    directory = tmp_path_factory.mktemp("report")
    build_month_store(directory / "state")
    ops_file = write_ops_file(directory)
    options = GlobalOptions(state_dir=directory / "state")
    written = {}
    for language in ("en", "ja"):
        path = directory / f"report-{MONTH}-{language}.html"
        assert report(options, month=MONTH, language=language, ops_file=ops_file, out=path) == 0
        written[language] = path
    return written


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_report_loads_without_errors_with_its_sections_and_charts(
    chromium: str, reports: dict[str, Path], artifacts: Path, tmp_path: Path, language: str
) -> None:
    page = reports[language].as_uri()
    dom = _chromium(chromium, tmp_path / "dom", "--dump-dom", page)
    assert dom.returncode == 0, dom.stderr[-2000:]
    for section in SECTIONS:
        assert f'id="{section}"' in dom.stdout, f"section {section} is missing from the loaded page"
    assert dom.stdout.count("<svg") == 3
    title = "月次運用報告書 2026-11" if language == "ja" else "Monthly operations report 2026-11"
    assert f"<h1>{title}</h1>" in dom.stdout
    screenshot = artifacts / f"report-{MONTH}-{language}.png"
    screenshot.unlink(missing_ok=True)
    shot = _chromium(
        chromium, tmp_path / "shot", "--window-size=1280,9000", f"--screenshot={screenshot}", page
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.stat().st_size > 50_000  # a blank page of this size is a few kilobytes
    for run in (dom, shot):
        errors = [line for line in run.stderr.splitlines() if any(mark in line for mark in LOAD_ERRORS)]
        assert not errors, "\n".join(errors)


def _cells(image_path: Path, row: int, count: int) -> list[bytes]:
    from PIL import Image  # noqa: PLC0415 - Pillow comes with matplotlib

    image = Image.open(image_path).convert("L")
    cells = [image.crop((i * CELL, row * CELL, (i + 1) * CELL, (row + 1) * CELL)) for i in range(count)]
    return [cell.point(lambda level: 0 if level < 128 else 255).tobytes() for cell in cells]


def test_japanese_text_renders_as_glyphs_not_tofu(chromium: str, artifacts: Path, tmp_path: Path) -> None:
    """Each character drawn in a cell of its own with the report's font stack: real glyphs all differ,
    while characters no font has (the second row, unassigned code points) all show the same box."""
    from opsrun.report.charts import chart_font  # noqa: PLC0415
    from opsrun.report.output import font_stack  # noqa: PLC0415

    characters = "月次運用報告書稼働率障害"
    missing = "".join(chr(code) for code in (0x378, 0x379, 0x380, 0x381, 0x382))
    fonts = font_stack(chart_font("ja"), japanese=True)
    cells = "</span><span>".join
    page = tmp_path / "glyphs.html"
    page.write_text(
        '<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><style>'
        f"body{{margin:0;background:#fff}}span{{display:inline-block;width:{CELL}px;height:{CELL}px;"
        f"font:40px/{CELL}px {fonts};text-align:center;vertical-align:top;overflow:hidden}}"
        "</style></head><body>"
        f"<div><span>{cells(characters)}</span></div><div><span>{cells(missing)}</span></div></body></html>",
        encoding="utf-8",
    )
    screenshot = artifacts / "glyphs-ja.png"
    shot = _chromium(
        chromium,
        tmp_path / "profile",
        f"--window-size={CELL * len(characters)},{CELL * 2 + 20}",
        f"--screenshot={screenshot}",
        page.as_uri(),
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    glyphs = _cells(screenshot, 0, len(characters))
    tofu = _cells(screenshot, 1, len(missing))
    assert len(set(tofu)) == 1, "the control row should be identical missing-glyph boxes"
    assert tofu[0] not in glyphs, "Japanese characters were drawn as missing-glyph boxes"
    assert len(set(glyphs)) == len(characters), "Japanese characters do not render as distinct glyphs"
