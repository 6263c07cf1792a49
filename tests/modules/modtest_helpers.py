"""Helpers for tests/modules: run nix-instantiate, evaluate the module files,
start a child process with a bounded wait. Self-contained on purpose."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def evaluate_modules(cfg_overrides: dict[str, Any] | None = None) -> Any:
    """What every file of modules/ assigns, applied to stub arguments (tests/modules/eval.nix)."""
    arg = to_nix(cfg_overrides or {})
    return nix_eval(f"import {HERE}/eval.nix {{ cfgOverrides = {arg}; }}")


def module_lib(expr: str) -> Any:
    """Evaluate `expr` with `m` bound to modules/lib.nix and `p` to nix/lib."""
    return nix_eval(f"let m = import {MODULES}/lib.nix; p = import {ROOT}/nix/lib; in {expr}")
