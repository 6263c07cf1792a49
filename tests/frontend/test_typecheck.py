"""The frontend's JavaScript, type-checked by TypeScript without a build step:
`tsc -p frontend` (frontend/tsconfig.json: checkJs, strict, nothing emitted) over every
module of frontend/public/assets/js. TypeScript is a test tool, pinned exactly in
frontend/package.json and its package-lock.json; `npm ci --prefix frontend` installs it
(.ci/run does). Without it these tests fail and say so: they never pass unchecked."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.support.layout import FRONTEND, ROOT
from tests.support.programs import find_program

INSTALL = "npm ci --prefix frontend"


def tsc() -> list[str]:
    """The pinned tsc in frontend/node_modules, run by node; else a `tsc` on PATH
    (nixpkgs' typescript in a Nix shell)."""
    local = FRONTEND / "node_modules" / "typescript" / "bin" / "tsc"
    if local.is_file():
        node = find_program("node")
        if node is None:
            pytest.fail("Node.js is not installed, so tsc cannot run: apt-get install nodejs")
        return [node, str(local)]
    on_path = find_program("tsc")
    if on_path is None:
        pytest.fail(
            f"TypeScript is not installed: {INSTALL} (needs Node.js and npm: "
            "apt-get install nodejs npm)"
        )
    return [on_path]


def test_typescript_is_pinned_exactly() -> None:
    package = json.loads((FRONTEND / "package.json").read_text())
    lock = json.loads((FRONTEND / "package-lock.json").read_text())
    pinned = package["devDependencies"]["typescript"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), f"not an exact version: {pinned}"
    assert set(package.get("dependencies", {})) == set(), "the app has no run-time dependencies"
    assert lock["packages"]["node_modules/typescript"]["version"] == pinned, (
        f"package-lock.json is stale: run npm install --prefix frontend ({pinned})"
    )


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def test_frontend_type_checks() -> None:
    exe = tsc()
    version = run(*exe, "--version").stdout.strip()
    r = run(*exe, "-p", "frontend", "--noEmit", "--pretty", "false")
    assert r.returncode == 0, f"tsc ({version}) found type errors:\n{r.stdout}{r.stderr}"
