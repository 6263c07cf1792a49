"""Each backend setting is declared once (mainplatform.config.Settings): the loader, the
README table, check-config and the NixOS module's options come from that declaration."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import fields

from mainplatform.config import KINDS, Settings, declared, describe, markdown_table
from tests.support import ROOT


def test_every_setting_is_declared_with_a_doc_and_a_known_kind() -> None:
    for f in fields(Settings):
        d = declared(f)
        assert d.doc and not d.doc.endswith("."), f.name
        assert str(f.type) in KINDS, (f.name, f.type)


def test_the_readme_table_is_the_declaration() -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(
        r"<!-- settings: generated[^\n]*-->\n(.*?)<!-- settings: end -->", readme, re.S
    )
    assert block, "README.md lost its generated settings table"
    assert block.group(1) == markdown_table(), "regenerate: .venv/bin/mainplatform settings"


def test_nix_lib_reads_the_declaration() -> None:
    exported = json.loads((ROOT / "nix" / "lib" / "backend-settings.json").read_text())
    assert exported == describe(), (
        "regenerate: .venv/bin/mainplatform settings --format json > nix/lib/backend-settings.json"
    )


def test_defaults_round_trip_through_the_environment() -> None:
    """What the NixOS module writes (each declared default as text) loads back as itself."""
    env = {"DATABASE_URL": "postgresql:///x", "REDIS_URL": "redis://127.0.0.1:1"}
    env["JWT_SECRET"] = secrets.token_urlsafe(48)
    for item in describe():
        default = item["default"]
        if item["required"] or default is None:
            continue
        text = (
            ",".join(default)
            if isinstance(default, list)
            else str(default).lower()
            if isinstance(default, bool)
            else str(default)
        )
        env[item["env"]] = text
    loaded = Settings.from_env(env)
    for f in fields(Settings):
        if f.name not in ("database_url", "redis_url", "jwt_secret"):
            assert getattr(loaded, f.name) == f.default, f.name


LITERALS = {"8000": Settings.default("port"), "12": Settings.default("password_min_length")}


def test_no_second_copy_of_the_port_or_the_password_length() -> None:
    """The backend port and the minimum password length are written in the declaration
    only; everything else (nix/lib, the image, the dev CLI, create-admin) reads it."""
    assert LITERALS == {"8000": 8000, "12": 12}
    places = [
        *(ROOT / "backend" / "src").rglob("*.py"),
        *(ROOT / "backend" / "dev" / "src").rglob("*.py"),
        *(ROOT / "nix").rglob("*.nix"),
        *(ROOT / "modules").rglob("*.nix"),
    ]
    patterns = {
        "8000": re.compile(r"(?<![\w.])8000(?![\w.])"),
        "12": re.compile(r"(?:min_length|MIN_LENGTH|minLength|password)\w*\W{1,6}12\b"),
    }
    config = ROOT / "backend" / "src" / "mainplatform" / "config.py"
    for literal, pattern in patterns.items():
        found = [
            f"{p.relative_to(ROOT)}:{n}"
            for p in places
            if p != config
            for n, line in enumerate(p.read_text().splitlines(), 1)
            if pattern.search(line) and not line.lstrip().startswith("#")
        ]
        assert not found, f"{literal} written outside the declaration: {found}"
