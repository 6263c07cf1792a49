"""Helpers for tests/modules: run nix-instantiate, evaluate the module files,
start a child process with a bounded wait. Self-contained on purpose."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
MODULES = ROOT / "modules"
EVAL_TIMEOUT = 60


def require_program(name: str, why: str = "") -> str:
    found = shutil.which(name)
    if found is None:
        beside = Path(sys.executable).parent / name
        if beside.is_file() and os.access(beside, os.X_OK):
            found = str(beside)
    if found is None:
        pytest.skip(f"{name} is not installed{': ' + why if why else ''}")
    return found


def to_nix(value: Any) -> str:
    """A Nix expression for a JSON-like Python value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value).replace("${", "\\${")
    if isinstance(value, list | tuple):
        return "[ " + " ".join(f"({to_nix(v)})" for v in value) + " ]"
    if isinstance(value, dict):
        return "{ " + " ".join(f"{to_nix(k)} = {to_nix(v)};" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as Nix")


def _instantiate(expr: str) -> subprocess.CompletedProcess[str]:
    nix = require_program("nix-instantiate", "apt-get install nix-bin")
    return subprocess.run(
        [nix, "--eval", "--strict", "--json", "-E", expr],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=EVAL_TIMEOUT,
        check=False,
    )


def nix_eval(expr: str) -> Any:
    proc = _instantiate(expr)
    if proc.returncode != 0:
        raise AssertionError(f"nix-instantiate failed for:\n{expr}\n{proc.stderr}")
    return json.loads(proc.stdout)


def nix_eval_error(expr: str) -> str:
    proc = _instantiate(expr)
    assert proc.returncode != 0, f"expected an evaluation error, got {proc.stdout}"
    return proc.stderr


def evaluate_modules(cfg_overrides: dict[str, Any] | None = None) -> Any:
    """What every file of modules/ assigns, applied to stub arguments (tests/modules/eval.nix)."""
    arg = to_nix(cfg_overrides or {})
    return nix_eval(f"import {HERE}/eval.nix {{ cfgOverrides = {arg}; }}")


def module_lib(expr: str) -> Any:
    """Evaluate `expr` with `m` bound to modules/lib.nix and `p` to nix/lib."""
    return nix_eval(f"let m = import {MODULES}/lib.nix; p = import {ROOT}/nix/lib; in {expr}")


def free_ports(n: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < n:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            ports.add(int(s.getsockname()[1]))
    return sorted(ports)


def wait_until(
    check: Callable[[], Any],
    *,
    timeout: float,
    what: str,
    detail: Callable[[], str] | None = None,
) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except OSError as exc:  # connection refused and friends
            last = exc
        else:
            if result:
                return result
        time.sleep(0.2)
    extra = f"\n{detail()}" if detail is not None else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r}){extra}")


@contextlib.contextmanager
def running(argv: list[str], *, log: Path, cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run a child process in its own session; always stop it (TERM, then KILL)."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd,
            start_new_session=True,
        )  # fmt: skip
        try:
            yield proc
        finally:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
