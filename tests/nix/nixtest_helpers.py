"""Helpers for the Nix tier: run nix-instantiate, find programs, start and stop
child processes on loopback with bounded waits."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NIX_LIB = ROOT / "nix" / "lib"
FRONTEND = ROOT / "frontend"
FRONTEND_FRAGMENT = FRONTEND / "nginx" / "server.conf"

EVAL_TIMEOUT = 60


def find_program(name: str) -> str | None:
    """A program on PATH, or next to this Python (the project venv's bin/)."""
    found = shutil.which(name)
    if found:
        return found
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return None


def require_program(name: str, why: str = "") -> str:
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


def nix_eval(expr: str, *, cwd: Path = ROOT) -> Any:
    """Evaluate a builtins-only Nix expression strictly and return it as JSON."""
    nix = require_program("nix-instantiate", "apt-get install nix-bin")
    proc = subprocess.run(
        [nix, "--eval", "--strict", "--json", "-E", expr],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=EVAL_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(f"nix-instantiate failed for:\n{expr}\n{proc.stderr}")
    return json.loads(proc.stdout)


def nix_eval_error(expr: str) -> str:
    """Evaluate an expression that must fail; return its error text."""
    nix = require_program("nix-instantiate", "apt-get install nix-bin")
    proc = subprocess.run(
        [nix, "--eval", "--strict", "--json", "-E", expr],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=EVAL_TIMEOUT,
        check=False,
    )
    assert proc.returncode != 0, f"expected an evaluation error, got {proc.stdout}"
    return proc.stderr


def lib_call(function: str, settings: dict[str, Any] | str) -> Any:
    """Call `(import ./nix/lib).<function>` with settings (a dict, or Nix text)."""
    arg = settings if isinstance(settings, str) else to_nix(settings)
    return nix_eval(f"(import {NIX_LIB}).{function} ({arg})")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_ports(n: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)


class Headers(dict[str, str]):
    """Response headers, looked up without regard to case."""

    def __init__(self, items: Any) -> None:
        super().__init__((k.lower(), v) for k, v in items)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


def http_get(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> tuple[int, Headers, bytes]:
    """GET without following redirects; returns (status, headers, body)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback only
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, Headers(response.headers.items()), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, Headers(exc.headers.items()), exc.read()


def wait_until(
    check: Any,
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    detail: Any = None,
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
        time.sleep(interval)
    extra = f"\n{detail()}" if detail is not None else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r}){extra}")


def frontend_web_root() -> Path | None:
    """The directory nginx serves, by the same rule as nix/packages/frontend.nix."""
    for sub in ("public", "dist"):
        if (FRONTEND / sub / "index.html").is_file():
            return FRONTEND / sub
    if FRONTEND.is_dir():
        return FRONTEND
    return None


def mime_types() -> str:
    for candidate in ("/etc/nginx/mime.types",):
        if Path(candidate).is_file():
            return candidate
    nginx = find_program("nginx")
    if nginx:
        beside = Path(nginx).resolve().parent.parent / "conf" / "mime.types"
        if beside.is_file():
            return str(beside)
    pytest.skip("nginx's mime.types was not found")
