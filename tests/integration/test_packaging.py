"""The distribution and the collection install and are found without any path set by hand."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def run(*argv: str | Path, cwd: Path | str = "/tmp", env: dict[str, str] | None = None) -> str:
    result = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, check=False,
                            env=env)
    assert result.returncode == 0, f"{argv} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def clean_env() -> dict[str, str]:
    """An environment that knows nothing of this checkout or its development venv."""
    drop = {"VIRTUAL_ENV", "PYTHONPATH", "ANSIBLE_CONFIG", "ANSIBLE_COLLECTIONS_PATH",
            "ANSIBLE_COLLECTIONS_PATHS"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if ".venv" not in p)
    return env


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", out, ROOT, cwd=ROOT)
    return {"wheel": next(out.glob("opsrun-*.whl")), "sdist": next(out.glob("opsrun-*.tar.gz"))}


def test_wheel_carries_the_collection_and_the_command(dists: dict[str, Path]) -> None:
    names = set(zipfile.ZipFile(dists["wheel"]).namelist())
    for expected in ("ansible_collections/opsrun/ops/galaxy.yml",
                     "ansible_collections/opsrun/ops/meta/runtime.yml",
                     "ansible_collections/opsrun/ops/playbooks/ping.yml",
                     "ansible_collections/opsrun/ops/inventories/local/hosts.yml",
                     "opsrun/cli.py"):
        assert expected in names
    assert not [n for n in names if n.startswith(("tests/", ".dev/", "src/"))]


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_fresh_install_finds_the_collection_from_anywhere(dists: dict[str, Path], kind: str,
                                                        tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    run(env_dir / "bin" / "pip", "install", "-q", dists[kind], env=clean_env())
    env = clean_env()
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env['PATH']}"
    # Only the installed distribution may answer: no collection in ~/.ansible or /usr/share counts.
    (tmp_path / "empty").mkdir()
    env["ANSIBLE_COLLECTIONS_PATH"] = str(tmp_path / "empty")
    assert run("opsrun", "--version", env=env).strip().endswith("0.1.0")
    listed = run("ansible-doc", "-l", "opsrun.ops", env=env)
    assert "opsrun.ops.system_info" in listed
    doc = run("ansible-doc", "opsrun.ops.system_info", env=env)
    assert "OPSRUN.OPS.SYSTEM_INFO" in doc.upper()
    site = next((env_dir / "lib").glob("python3*/site-packages"))
    local = site / "ansible_collections/opsrun/ops/inventories/local"
    played = run("ansible-playbook", "opsrun.ops.ping", "-i", local, env=env)
    assert "localhost" in played and "failed=0" in played


def test_galaxy_build_installs_as_a_collection(tmp_path: Path) -> None:
    run("ansible-galaxy", "collection", "build", "--output-path", tmp_path, ROOT, cwd=ROOT)
    tarball = next(tmp_path.glob("opsrun-ops-*.tar.gz"))
    with tarfile.open(tarball) as archive:
        members = archive.getnames()
    assert "galaxy.yml" not in members and "MANIFEST.json" in members
    assert not [m for m in members if m.startswith(("src/", ".dev", "tests/fleet", ".ci"))]
    # --force: the development install already makes opsrun.ops visible, which would make this a no-op.
    run("ansible-galaxy", "collection", "install", "--offline", "--no-deps", "--force",
        "-p", tmp_path / "collections", tarball)
    env = clean_env()
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["ANSIBLE_COLLECTIONS_PATH"] = str(tmp_path / "collections")
    env["ANSIBLE_COLLECTIONS_SCAN_SYS_PATH"] = "False"  # the development install must not answer for it
    assert "opsrun.ops.system_info" in run("ansible-doc", "-l", "opsrun.ops", env=env)


def test_the_execution_environment_context_carries_the_collection(tmp_path: Path) -> None:
    # ansible-builder reads the build files relative to the definition: build it where make build would.
    (tmp_path / "execution-environment.yml").write_bytes((ROOT / "execution-environment.yml").read_bytes())
    run("ansible-galaxy", "collection", "build", "--output-path", tmp_path / "build", ROOT, cwd=ROOT)
    builder = Path(sys.executable).parent / "ansible-builder"
    run(builder, "create", "--file", "execution-environment.yml", "--context", "context", cwd=tmp_path)
    context = tmp_path / "context"
    [tarball] = (context / "_build" / "collections").glob("opsrun-ops-*.tar.gz")
    with tarfile.open(tarball) as archive:
        assert "plugins/modules/system_info.py" in archive.getnames()
    requirements = (context / "_build" / "requirements.yml").read_text()
    assert "/tmp/opsrun-collection/opsrun-ops.tar.gz" in requirements and "type: file" in requirements
    steps = (context / "Dockerfile").read_text()
    assert 'ANSIBLE_INSTALL_REFS="ansible-core>=2.19,<2.20 ansible-runner>=2.4,<3"' in steps
    assert "COPY _build/collections/ /tmp/opsrun-collection/" in steps
    assert "openssh-clients" in (context / "_build" / "bindep.txt").read_text()
