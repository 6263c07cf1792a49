"""Evaluating Nix with nix-instantiate (builtins only, no nixpkgs needed): Python values
as Nix, nix/lib's functions, and modules/lib.nix given nixpkgs' lib from
$MAINPLATFORM_NIXPKGS. Without nix-instantiate the tests that need it skip."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.layout import MODULES, NIX_LIB, ROOT
from tests.support.programs import require_program

EVAL_TIMEOUT = 60


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


def require_nix() -> str:
    """nix-instantiate's path, or skip the test."""
    return require_program("nix-instantiate", why="apt-get install nix-bin")


def instantiate(
    *args: str, cwd: Path = ROOT, timeout: float = EVAL_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """`nix-instantiate --eval --strict --json` with `args`; the caller reads the result."""
    nix = require_nix()
    return subprocess.run(
        [nix, "--eval", "--strict", "--json", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def nix_eval(expr: str, *, cwd: Path = ROOT) -> Any:
    """Evaluate a builtins-only Nix expression strictly and return it as JSON."""
    proc = instantiate("-E", expr, cwd=cwd)
    if proc.returncode != 0:
        raise AssertionError(f"nix-instantiate failed for:\n{expr}\n{proc.stderr}")
    return json.loads(proc.stdout)


def nix_eval_error(expr: str) -> str:
    """Evaluate an expression that must fail; return its error text."""
    proc = instantiate("-E", expr)
    assert proc.returncode != 0, f"expected an evaluation error, got {proc.stdout}"
    return proc.stderr


def lib_call(function: str, settings: dict[str, Any] | str) -> Any:
    """Call `(import ./nix/lib).<function>` with settings (a dict, or Nix text)."""
    arg = settings if isinstance(settings, str) else to_nix(settings)
    return nix_eval(f"(import {NIX_LIB}).{function} ({arg})")


def nixpkgs_dir() -> Path:
    """$MAINPLATFORM_NIXPKGS (nixpkgs' lib/ and the files of nixpkgs-files.txt), or skip."""
    value = os.environ.get("MAINPLATFORM_NIXPKGS")
    if not value:
        pytest.skip(
            "MAINPLATFORM_NIXPKGS is not set: this tier needs nixpkgs' lib/ and the files of "
            "tests/modules/nixpkgs-files.txt (README, 'Testing the NixOS module')"
        )
    return Path(value)


def module_lib(expr: str) -> Any:
    """Evaluate `expr` with `m` bound to modules/lib.nix (given nixpkgs' real lib from
    $MAINPLATFORM_NIXPKGS) and `p` to nix/lib; skipped without that directory."""
    nixpkgs = nixpkgs_dir()
    return nix_eval(
        f"let lib = import {nixpkgs}/lib; m = import {MODULES}/lib.nix {{ inherit lib; }};"
        f" p = import {NIX_LIB}; in {expr}"
    )


def render_traefik(settings: dict[str, Any]) -> tuple[Any, Any, Any]:
    """nix/lib's Traefik static and dynamic configuration for `settings`, and the finished
    settings (mkSettings) they were rendered from."""
    both = nix_eval(
        f"let l = import {NIX_LIB}; s = l.mkSettings ({to_nix(settings)}); in "
        "{ static = l.traefikStatic s; dynamic = l.traefikDynamic s; settings = s; }"
    )
    return both["static"], both["dynamic"], both["settings"]
