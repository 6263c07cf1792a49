"""Every .nix file parses; flake.nix and flake.lock agree and the lock is a real pin."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.layout import ROOT
from tests.support.nix import require_nix

SKIP_DIRS = {".git", ".venv", "node_modules", ".state", "result", ".direnv"}


def nix_files() -> list[Path]:
    found: list[Path] = []
    for path in ROOT.rglob("*.nix"):
        rel = path.relative_to(ROOT)
        if any(part in SKIP_DIRS or part.startswith("result-") for part in rel.parts):
            continue
        found.append(path)
    return sorted(found)


def test_the_flake_and_its_nix_files_exist() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in nix_files()}
    for required in (
        "flake.nix",
        "nix/lib/default.nix",
        "nix/packages/backend.nix",
        "nix/packages/frontend.nix",
        "nix/images.nix",
        "nix/checks.nix",
        "nix/devshell.nix",
    ):
        assert required in names


@pytest.mark.parametrize("path", nix_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_nix_file_parses(path: Path) -> None:
    nix = require_nix()
    proc = subprocess.run(
        [nix, "--parse", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr


def test_flake_lock_pins_the_flake_inputs() -> None:
    lock = json.loads((ROOT / "flake.lock").read_text(encoding="utf-8"))
    assert lock["version"] == 7
    assert lock["root"] == "root"
    assert lock["nodes"]["root"]["inputs"] == {"disko": "disko", "nixpkgs": "nixpkgs"}
    assert set(lock["nodes"]) == {"root", "nixpkgs", "disko"}  # disko follows our nixpkgs

    node = lock["nodes"]["nixpkgs"]
    locked, original = node["locked"], node["original"]
    assert locked["type"] == "github"
    assert (locked["owner"], locked["repo"]) == ("NixOS", "nixpkgs")
    assert re.fullmatch(r"[0-9a-f]{40}", locked["rev"])
    assert re.fullmatch(r"sha256-[A-Za-z0-9+/]{43}=", locked["narHash"])
    assert isinstance(locked["lastModified"], int)
    assert locked["lastModified"] > 1_780_000_000  # after the 26.05 branch-off

    flake = (ROOT / "flake.nix").read_text(encoding="utf-8")
    url = re.search(r'\bnixpkgs\.url\s*=\s*"([^"]+)"', flake)
    assert url is not None, "flake.nix must set inputs.nixpkgs.url"
    assert url.group(1) == f"github:NixOS/nixpkgs/{original['ref']}"
    assert re.fullmatch(r"nixos-\d\d\.\d\d", original["ref"])

    disko = lock["nodes"]["disko"]
    assert disko["inputs"] == {"nixpkgs": ["nixpkgs"]}
    assert (disko["locked"]["owner"], disko["locked"]["repo"]) == ("nix-community", "disko")
    assert re.fullmatch(r"[0-9a-f]{40}", disko["locked"]["rev"])
    assert re.fullmatch(r"sha256-[A-Za-z0-9+/]{43}=", disko["locked"]["narHash"])
    assert 'url = "github:nix-community/disko/latest";' in flake
    assert 'inputs.nixpkgs.follows = "nixpkgs";' in flake


def test_flake_inputs_are_nixpkgs_and_disko_and_no_flake_utils() -> None:
    flake = (ROOT / "flake.nix").read_text(encoding="utf-8")
    assert "flake-utils" not in flake
    assert re.findall(r"^    (\w+)(?:\.url)? = ", flake, re.M)[:2] == ["nixpkgs", "disko"]
    assert "lib.genAttrs" in flake
