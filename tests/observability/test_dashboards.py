"""The Grafana dashboards: generated reproducibly, valid, stable uids, unique panel ids,
every query on the datasource that nix/lib provisions."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.observability.queries import DASHBOARDS_DIR, GENERATOR, ROOT, dashboards, panels
from tests.observability.servers import find_program

GRAFANA_NIX = ROOT / "nix" / "lib" / "grafana.nix"
EXPECTED = {
    "overview.json": "mainplatform-overview",
    "auth.json": "mainplatform-auth",
    "traefik.json": "mainplatform-traefik",
    "postgres.json": "mainplatform-postgres",
    "redis.json": "mainplatform-redis",
    "host.json": "mainplatform-host",
}


def datasource_uid() -> str:
    """`datasourceUid` as written in nix/lib/grafana.nix."""
    match = re.search(r'^\s*datasourceUid\s*=\s*"([^"]+)"\s*;', GRAFANA_NIX.read_text(), re.M)
    assert match, f"no datasourceUid in {GRAFANA_NIX}"
    return match.group(1)


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mainplatform_dashboards", GENERATOR)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generator_gives_exactly_the_committed_files() -> None:
    gen = generator()
    wanted = gen.build()
    assert set(wanted) == {p.name for p in DASHBOARDS_DIR.glob("*.json")}
    for name, board in wanted.items():
        committed = (DASHBOARDS_DIR / name).read_text(encoding="utf-8")
        assert gen.render(board) == committed, (
            f"dashboards/{name} is out of date: run python3 nix/observability/dashboards.py"
        )


def test_the_dashboards_and_their_uids() -> None:
    boards = dashboards()
    assert {name: b["uid"] for name, b in boards.items()} == EXPECTED


def test_the_generator_uses_the_provisioned_datasource() -> None:
    assert {"type": "prometheus", "uid": datasource_uid()} == generator().DATASOURCE


def test_datasource_uid_as_nix_evaluates_it() -> None:
    nix = find_program("nix-instantiate")
    if nix is None:
        pytest.skip("nix-instantiate is not installed (apt-get install nix-bin)")
    proc = subprocess.run(
        [
            nix,
            "--eval",
            "--strict",
            "--json",
            "-E",
            f"(import {ROOT / 'nix' / 'lib'}).datasourceUid",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == datasource_uid()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dashboard_is_well_formed(name: str) -> None:
    path: Path = DASHBOARDS_DIR / name
    text = path.read_text(encoding="utf-8")
    board: dict[str, Any] = json.loads(text)
    uid = datasource_uid()

    # Importable as provisioned: no export placeholders, no numeric id, no variables.
    assert "${DS_" not in text and "__inputs" not in board
    assert board.get("id") is None
    assert board["uid"] == EXPECTED[name] and len(board["uid"]) <= 40
    assert board["title"].startswith("Main Platform / ")
    assert 36 <= board["schemaVersion"] <= 41
    assert board.get("templating", {}).get("list", []) == []

    all_panels = list(panels(board))
    assert all_panels
    ids = [p["id"] for p in all_panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {ids}"
    titles = [p["title"] for p in all_panels]
    assert len(titles) == len(set(titles)), f"duplicate panel titles: {titles}"

    cells: set[tuple[int, int]] = set()
    for panel in all_panels:
        what = f"{name}: panel {panel['id']} {panel['title']!r}"
        assert panel["type"] in {"timeseries", "stat", "row"}, what
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, what
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{what} overlaps another panel"
                cells.add((x, y))
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}, what
        targets = panel["targets"]
        assert targets, f"{what} has no query"
        refs = [t["refId"] for t in targets]
        assert len(refs) == len(set(refs)), what
        for t in targets:
            assert t["datasource"] == {"type": "prometheus", "uid": uid}, what
            assert t["expr"].strip(), what
            assert "$" not in t["expr"], f"{what}: Grafana variable in {t['expr']!r}"
        assert panel.get("description"), f"{what} has no description"
