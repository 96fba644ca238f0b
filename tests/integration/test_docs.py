"""The documentation builds without a warning, and the changelog fragments pass antsibull-changelog's lint."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# antsibull-docs, antsibull-changelog and sphinx-build of the environment running the tests.
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_changelog_fragments_lint() -> None:
    result = subprocess.run(
        ["antsibull-changelog", "lint"], cwd=REPO, capture_output=True, text=True, check=False, env=ENV
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


@pytest.mark.slow
def test_docs_build_without_warnings() -> None:
    changelog = (REPO / "changelogs" / "changelog.yaml").read_bytes()
    result = subprocess.run(
        [str(REPO / "docs" / "build.sh")], cwd=REPO, capture_output=True, text=True, check=False, env=ENV
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output.upper().replace("WARNINGS AS ERRORS", ""), output
    # The release notes were made in a copy: the repository's changelog is as it was.
    assert (REPO / "changelogs" / "changelog.yaml").read_bytes() == changelog
    html = REPO / "build" / "docs"
    for page in ("index", "docs/quickstart", "docs/ops-yml", "docs/schedules", "changelog"):
        assert (html / f"{page}.html").is_file(), page
    modules = sorted(path.stem for path in (REPO / "plugins" / "modules").glob("[!_]*.py"))
    roles = sorted(path.name for path in (REPO / "roles").iterdir() if (path / "meta").is_dir())
    reference = html / "collections" / "opsrun" / "ops"
    for module in modules:
        assert (reference / f"{module}_module.html").is_file(), module
    for role in roles:
        assert (reference / f"{role}_role.html").is_file(), role
    assert "Release Summary" in (html / "changelog.html").read_text(encoding="utf-8")
