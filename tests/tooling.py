"""Small helpers the test tiers share: programs, Nix evaluation, ports, waiting."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mainplatform_dev.services import free_port

ROOT = Path(__file__).resolve().parent.parent
EVAL_TIMEOUT = 60


def find_program(name: str) -> str | None:
    """A program on PATH, or next to this Python (the project venv's bin/)."""
    found = shutil.which(name)
    if found:
        return found
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


def require_program(name: str, why: str = "") -> str:
    """The program's path, or skip the test saying what to install."""
    path = find_program(name)
    if path is None:
        pytest.skip(f"{name} is not installed{': ' + why if why else ''}")
    return path


def nix_string(value: str) -> str:
    """A Nix string literal for `value`."""
    return json.dumps(value).replace("${", "\\${")


def to_nix(value: Any) -> str:
    """A Nix expression for a JSON-like Python value."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return nix_string(value)
    if isinstance(value, list | tuple):
        return "[ " + " ".join(f"({to_nix(v)})" for v in value) + " ]"
    if isinstance(value, dict):
        return "{ " + " ".join(f"{nix_string(k)} = {to_nix(v)};" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as Nix")


def _instantiate(expr: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    nix = require_program("nix-instantiate", "apt-get install nix-bin")
    return subprocess.run(
        [nix, "--eval", "--strict", "--json", "-E", expr],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=EVAL_TIMEOUT,
        check=False,
    )


def nix_eval(expr: str, *, cwd: Path = ROOT) -> Any:
    """Evaluate a builtins-only Nix expression strictly and return it as JSON."""
    proc = _instantiate(expr, cwd)
    if proc.returncode != 0:
        raise AssertionError(f"nix-instantiate failed for:\n{expr}\n{proc.stderr}")
    return json.loads(proc.stdout)


def nix_eval_error(expr: str) -> str:
    """Evaluate an expression that must fail; return its error text."""
    proc = _instantiate(expr, ROOT)
    assert proc.returncode != 0, f"expected an evaluation error, got {proc.stdout}"
    return proc.stderr


def free_ports(n: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_until(
    check: Callable[[], Any],
    *,
    what: str,
    timeout: float = 30.0,
    interval: float = 0.1,
    detail: Callable[[], str] | None = None,
) -> Any:
    """Call `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except (OSError, ValueError) as exc:  # connection refused and friends
            last = exc
        else:
            if result:
                return result
            last = result
        time.sleep(interval)
    extra = f"\n{detail()}" if detail is not None else ""
    raise AssertionError(
        f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r}){extra}"
    )
