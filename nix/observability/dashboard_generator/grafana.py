"""The small Grafana model the dashboards are written in: query targets, timeseries and stat
panels, and a dashboard that lays rows of panels out on Grafana's grid.

Every panel and target uses the provisioned Prometheus datasource by uid (`datasourceUid` in
nix/lib/grafana.nix); the dashboards have no template variables.
"""

from __future__ import annotations

from typing import Any

# A JSON object, written by json.dumps in its insertion order.
JSON = dict[str, Any]
Target = JSON
Panel = JSON
Dashboard = JSON
# Threshold steps, lowest first: (value the colour applies from, None for the base; colour).
Steps = list[tuple[float | None, str]]

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}  # = nix/lib datasourceUid
SCHEMA_VERSION = 39
TAG = "mainplatform"

GREEN: Steps = [(None, "green")]
UP_DOWN: list[JSON] = [
    {
        "type": "value",
        "options": {
            "0": {"color": "red", "index": 0, "text": "down"},
            "1": {"color": "green", "index": 1, "text": "up"},
        },
    }
]


# --- panels -------------------------------------------------------------------


def target(expr: str, legend: str = "", *, instant: bool = False) -> Target:
    return {
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": expr,
        "instant": instant,
        "legendFormat": legend or "__auto",
        "range": not instant,
    }


def _with_refs(targets: list[Target]) -> list[Target]:
    return [{**t, "refId": chr(ord("A") + i)} for i, t in enumerate(targets)]


def _thresholds(steps: Steps) -> JSON:
    return {
        "mode": "absolute",
        "steps": [{"color": color, "value": value} for value, color in steps],
    }


def timeseries(
    title: str,
    description: str,
    targets: list[Target],
    *,
    unit: str = "short",
    stack: bool = False,
    bars: bool = False,
    min_value: float | None = 0,
    max_value: float | None = None,
    decimals: int | None = None,
) -> Panel:
    defaults: JSON = {
        "unit": unit,
        "color": {"mode": "palette-classic"},
        "custom": {
            "drawStyle": "bars" if bars else "line",
            "lineWidth": 1,
            "fillOpacity": 20 if stack or bars else 10,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        },
        "thresholds": _thresholds(GREEN),
    }
    if min_value is not None:
        defaults["min"] = min_value
    if max_value is not None:
        defaults["max"] = max_value
    if decimals is not None:
        defaults["decimals"] = decimals
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": _with_refs(targets),
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    }


def stat(
    title: str,
    description: str,
    targets: list[Target],
    *,
    unit: str = "short",
    thresholds: Steps | None = None,
    mappings: list[JSON] | None = None,
    text_mode: str = "auto",
    decimals: int | None = None,
) -> Panel:
    """A single value: every target is made an instant query."""
    defaults: JSON = {
        "unit": unit,
        "color": {"mode": "thresholds"},
        "thresholds": _thresholds(thresholds or GREEN),
        "mappings": mappings or [],
    }
    if decimals is not None:
        defaults["decimals"] = decimals
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": _with_refs([{**t, "instant": True, "range": False} for t in targets]),
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "colorMode": "value",
            "graphMode": "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "textMode": text_mode,
        },
    }


def up_stat(title: str, description: str, expr: str, legend: str = "") -> Panel:
    """A stat of a 0/1 series shown as "down" (red) or "up" (green)."""
    return stat(
        title,
        description,
        [target(expr, legend)],
        thresholds=[(None, "red"), (1, "green")],
        mappings=UP_DOWN,
    )


# --- dashboards -----------------------------------------------------------------


def dashboard(uid: str, title: str, description: str, rows: list[list[Panel]]) -> Dashboard:
    """Lay rows out on Grafana's 24-column grid (stat rows 4 high, others 8) and number
    the panels 1, 2, 3, ... in reading order."""
    panels: list[Panel] = []
    y = 0
    for row in rows:
        height = 4 if all(p["type"] == "stat" for p in row) else 8
        width = 24 // len(row)
        for i, panel in enumerate(row):
            w = width if i < len(row) - 1 else 24 - width * (len(row) - 1)
            panels.append(
                {
                    "id": len(panels) + 1,
                    "gridPos": {"h": height, "w": w, "x": width * i, "y": y},
                    **panel,
                }
            )
        y += height
    titles = [p["title"] for p in panels]
    assert len(titles) == len(set(titles)), f"{uid}: panel titles must be unique: {titles}"
    return {
        "id": None,
        "uid": uid,
        "title": title,
        "description": description,
        "tags": [TAG],
        "editable": False,
        "graphTooltip": 1,
        "liveNow": False,
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "time": {"from": "now-3h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "version": 1,
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "links": [
            {
                "asDropdown": True,
                "icon": "external link",
                "includeVars": False,
                "keepTime": True,
                "tags": [TAG],
                "targetBlank": False,
                "title": "Main Platform",
                "type": "dashboards",
            }
        ],
        "templating": {"list": []},
        "panels": panels,
    }
