"""Static checks as part of the suite: ruff (lint and format) and mypy --strict on the backend."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.support import ROOT


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module", autouse=True)
def tools() -> None:
    for module in ("ruff", "mypy"):
        if (
            shutil.which(module) is None
            and run(sys.executable, "-m", module, "--version").returncode
        ):
            pytest.fail(f"{module} is not installed: pip install -e 'backend[test]'")


def test_ruff_lint() -> None:
    r = run(sys.executable, "-m", "ruff", "check", "backend", "tests")
    assert r.returncode == 0, r.stdout + r.stderr


def test_ruff_format() -> None:
    r = run(sys.executable, "-m", "ruff", "format", "--check", "backend", "tests")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict() -> None:
    r = run(sys.executable, "-m", "mypy", "--config-file", "backend/pyproject.toml")
    assert r.returncode == 0, r.stdout + r.stderr
