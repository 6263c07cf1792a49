"""Helpers for the Nix tier: run nix-instantiate, find programs, start and stop
child processes on loopback with bounded waits."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.tooling import (  # noqa: F401 - re-exported for the tests in this folder
    EVAL_TIMEOUT,
    find_program,
    free_port,
    free_ports,
    nix_eval,
    nix_eval_error,
    nix_string,
    require_program,
    to_nix,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[2]
NIX_LIB = ROOT / "nix" / "lib"
FRONTEND = ROOT / "frontend"
FRONTEND_FRAGMENT = FRONTEND / "nginx" / "server.conf"


def lib_call(function: str, settings: dict[str, Any] | str) -> Any:
    """Call `(import ./nix/lib).<function>` with settings (a dict, or Nix text)."""
    arg = settings if isinstance(settings, str) else to_nix(settings)
    return nix_eval(f"(import {NIX_LIB}).{function} ({arg})")


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
