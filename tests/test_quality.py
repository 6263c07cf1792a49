"""Static checks as part of the suite: ruff (lint and format) on the backend, the tests and the
dashboard generator, and mypy --strict on the backend and the dashboard generator."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import ROOT, find_program

# The Grafana dashboard generator (standard library only); nix/observability/ruff.toml gives it
# the backend's ruff settings, and mypy checks it with the backend's configuration.
DASHBOARD_GENERATOR = "nix/observability/dashboard_generator"


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def ruff() -> str:
    """The ruff executable: beside this interpreter (a venv), else on PATH (nixpkgs' ruff,
    which is a program, not a Python module)."""
    exe = find_program("ruff", venv_first=True)
    if exe is None:
        pytest.fail("ruff is not installed: pip install -e 'backend[test]'")
    return exe


@pytest.fixture(scope="module", autouse=True)
def tools() -> None:
    ruff()
    if run(sys.executable, "-m", "mypy", "--version").returncode:
        pytest.fail("mypy is not installed: pip install -e 'backend[test]'")


def test_ruff_lint() -> None:
    r = run(ruff(), "check", "backend", "tests", DASHBOARD_GENERATOR)
    assert r.returncode == 0, r.stdout + r.stderr


def test_ruff_format() -> None:
    r = run(ruff(), "format", "--check", "backend", "tests", DASHBOARD_GENERATOR)
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict() -> None:
    r = run(sys.executable, "-m", "mypy", "--config-file", "backend/pyproject.toml")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict_dashboard_generator() -> None:
    # Named by path, it is checked as the package `dashboard_generator` (nix/ is no package),
    # with the backend's settings (strict, Python 3.11) and not the backend's `packages`.
    r = run(
        sys.executable, "-m", "mypy", "--config-file", "backend/pyproject.toml", DASHBOARD_GENERATOR
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_readme_has_each_section_once() -> None:
    """A scripted README edit once pasted a second copy of half the file; every heading
    (outside code blocks) names one section."""
    headings: list[str] = []
    fenced = False
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            headings.append(line)
    repeated = sorted({h for h in headings if headings.count(h) > 1})
    assert not repeated, repeated
