"""The built wheel carries every file the package reads, and answers when installed outside the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, SEED_ARTICLE, skip_or_fail

PACKAGES = ("rag", "ingest", "ui")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # A copy of the tree: building writes build/ and *.egg-info, which must not touch the checkout.
    source = out / "src"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".venv", ".git", "bench", "tests", "*.egg-info"))
    # The sdist first, then the wheel from it (python -m build's way): what the sdist leaves out,
    # the wheel then lacks too. No isolation: the build needs no download.
    built = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if built.returncode != 0:
        skip_or_fail(f"building the sdist and wheel failed: {built.stderr[-500:]}")
    (found,) = out.glob("newsrag-*.whl")
    return found


def test_the_sdist_is_built_beside_the_wheel(wheel: Path) -> None:
    import tarfile

    (sdist,) = wheel.parent.glob("newsrag-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    assert any(n.endswith("rag/answering/selector.json") for n in names)
    assert any(n.endswith("pyproject.toml") for n in names) and any(n.endswith("README.md") for n in names)


def test_the_wheel_holds_every_data_file_of_the_packages(wheel: Path) -> None:
    data = {
        str(p.relative_to(REPO))
        for package in PACKAGES
        for p in (REPO / package).rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    }
    assert data, "the packages ship no data file: this test checks nothing then"
    names = set(zipfile.ZipFile(wheel).namelist())
    assert data <= names, sorted(data - names)


def test_the_installed_wheel_answers_with_citations_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    (site,) = venv.glob("lib/python*/site-packages")
    # The dependencies come from this environment's site-packages, added as a plain path: its own
    # .pth files (among them this checkout's editable install) are not run, so only the wheel's copy
    # of the package can be imported.
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--no-deps",
            "--quiet",
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    work = tmp_path / "work"
    (work / "corpus").mkdir(parents=True)
    shutil.copy(SEED_ARTICLE, work / "corpus")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env |= {"RAG_CORPUS_DIR": "corpus", "RAG_DATA_DIR": ".rag"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), cwd=work, env=env, capture_output=True, text=True, timeout=300)

    where = run(str(venv / "bin" / "python"), "-c", "import rag; print(rag.__file__)")
    assert where.stdout.startswith(str(site)), where.stdout + where.stderr
    rag = str(venv / "bin" / "rag")
    ingested = run(rag, "ingest")
    assert ingested.returncode == 0, ingested.stderr
    asked = run(rag, "ask", "Why did Krause resign?")
    assert asked.returncode == 0, asked.stderr
    assert "Traceback" not in asked.stderr
    assert "[1]" in asked.stdout and "ICE" in asked.stdout, asked.stdout
