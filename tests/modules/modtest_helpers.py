"""Helpers for tests/modules: run nix-instantiate, evaluate the module files,
start a child process with a bounded wait. Self-contained on purpose."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.support import running  # noqa: F401 - re-exported
from tests.tooling import (  # noqa: F401 - re-exported for the tests in this folder
    free_ports,
    nix_eval,
    nix_eval_error,
    require_program,
    to_nix,
    wait_until,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
MODULES = ROOT / "modules"


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
        f" p = import {ROOT}/nix/lib; in {expr}"
    )
