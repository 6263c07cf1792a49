"""Placeholders in the nixpkgs directory for files the real modules reference but this
tier does not need to read (our own text, written beside nixpkgs' files, never
nixpkgs' code):

- exporters.nix imports every exporter's file to build its option tree; we use
  three (node, postgres, redis, real copies). Each other one becomes a module that
  declares only a port and no options, so it can never be enabled by accident: an
  option set on it fails as "does not exist".
- non-Nix files that modules interpolate into scripts (`${./update-users-groups.pl}`):
  their content is never evaluated, only their path.
"""

from __future__ import annotations

import re
from pathlib import Path

MARK = "# placeholder written by mainplatform's tests/modules/real/placeholders.py\n"

ASSETS = [
    "nixos/modules/config/update-users-groups.pl",
    "nixos/modules/system/boot/loader/systemd-boot/systemd-boot-builder.py",
    "nixos/modules/services/databases/postgresql.md",
    "nixos/modules/services/monitoring/prometheus/exporters.md",
    "nixos/modules/services/web-servers/nginx/nginx.md",
]


def exporter_names(exporters_nix: Path) -> list[str]:
    """The exporter file names exporters.nix imports (the genAttrs list and `name = ...`)."""
    text = exporters_nix.read_text(encoding="utf-8")
    start = text.index("exporterOpts =")
    block = text[start : text.index("mkSubModules", start)]
    listed = re.findall(r'^\s+"([a-z0-9_-]+)"$', block, re.M)
    named = re.findall(r'\bname = "([a-z0-9_-]+)";', block)
    return sorted(set(listed) | set(named))


COMMON = {"enable", "port", "listenAddress", "openFirewall", "firewallFilter", "firewallRules"}
COMMON |= {"user", "group", "extraFlags"}


def referenced_options(exporters_nix: Path) -> dict[str, set[str]]:
    """Options of an exporter that exporters.nix itself reads (in its assertions)."""
    text = exporters_nix.read_text(encoding="utf-8")
    found: dict[str, set[str]] = {}
    pattern = r"(?:\bcfg|services\.prometheus\.exporters)\.([a-z0-9_-]+)\.([A-Za-z]+)"
    for name, option in re.findall(pattern, text):
        if option not in COMMON:
            found.setdefault(name, set()).add(option)
    return found


def write(root: Path) -> list[Path]:
    """Create the missing placeholders under `root`; returns the files written."""
    written: list[Path] = []
    exporters = root / "nixos/modules/services/monitoring/prometheus"
    read = referenced_options(exporters / "exporters.nix")
    for port, name in enumerate(exporter_names(exporters / "exporters.nix"), start=40000):
        path = exporters / "exporters" / f"{name}.nix"
        if path.exists() and not path.read_text(encoding="utf-8").startswith(MARK):
            continue  # a real copy
        # Options exporters.nix reads unguarded, each off (false / null).
        extra = "".join(
            f"    {o} = lib.mkOption {{ type = lib.types.anything; default = "
            f"{'false' if o.startswith(('run', 'use', 'enable')) else 'null'}; }};\n"
            for o in sorted(read.get(name, ()))
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"{MARK}{{ lib, ... }}:\n{{\n  port = {port};\n  extraOpts = {{\n{extra}  }};\n"
            "  serviceOpts = { };\n}\n"
        )
        written.append(path)
    for asset in ASSETS:
        path = root / asset
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(MARK)
            written.append(path)
    return written


if __name__ == "__main__":
    import sys

    print(len(write(Path(sys.argv[1]))), "placeholders")
