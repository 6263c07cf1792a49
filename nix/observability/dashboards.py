# ruff: noqa: E501  (long query strings and panel descriptions read better unwrapped)
"""Generate the Grafana dashboards in dashboards/*.json (Python standard library only).

    python3 nix/observability/dashboards.py          # rewrite dashboards/*.json
    python3 nix/observability/dashboards.py --check  # exit 1 if a file is out of date

The JSON files are committed (Grafana's file provider reads them as they are); a test
checks that running this script gives exactly the committed files. Every panel uses the
provisioned Prometheus datasource by uid (`datasourceUid` in nix/lib/grafana.nix); no
template variables, and rate windows are fixed at 5m (four 15 s scrapes and more), so
every query is plain PromQL that Prometheus itself can evaluate.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "dashboards"

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}  # = nix/lib datasourceUid
SCHEMA_VERSION = 39
TAG = "mainplatform"

Panel = dict[str, Any]


# --- panels -------------------------------------------------------------------


def target(expr: str, legend: str = "", *, instant: bool = False) -> dict[str, Any]:
    return {
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": expr,
        "instant": instant,
        "legendFormat": legend or "__auto",
        "range": not instant,
    }


def _with_refs(targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**t, "refId": chr(ord("A") + i)} for i, t in enumerate(targets)]


def _thresholds(steps: list[tuple[float | None, str]]) -> dict[str, Any]:
    return {
        "mode": "absolute",
        "steps": [{"color": color, "value": value} for value, color in steps],
    }


GREEN = [(None, "green")]
UP_DOWN = [
    {
        "type": "value",
        "options": {
            "0": {"color": "red", "index": 0, "text": "down"},
            "1": {"color": "green", "index": 1, "text": "up"},
        },
    }
]


def timeseries(
    title: str,
    description: str,
    targets: list[dict[str, Any]],
    *,
    unit: str = "short",
    stack: bool = False,
    bars: bool = False,
    min_value: float | None = 0,
    max_value: float | None = None,
    decimals: int | None = None,
) -> Panel:
    defaults: dict[str, Any] = {
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
    targets: list[dict[str, Any]],
    *,
    unit: str = "short",
    thresholds: list[tuple[float | None, str]] | None = None,
    mappings: list[dict[str, Any]] | None = None,
    text_mode: str = "auto",
    decimals: int | None = None,
) -> Panel:
    defaults: dict[str, Any] = {
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
    return stat(
        title,
        description,
        [target(expr, legend)],
        thresholds=[(None, "red"), (1, "green")],
        mappings=UP_DOWN,
    )


# --- dashboards -----------------------------------------------------------------


def dashboard(uid: str, title: str, description: str, rows: list[list[Panel]]) -> dict[str, Any]:
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


# Selectors shared by the queries.
BACKEND = 'job="backend"'
REQUESTS = f"mainplatform_http_requests_total{{{BACKEND}}}"
REQUESTS_5XX = f'mainplatform_http_requests_total{{{BACKEND},status=~"5.."}}'
REQUESTS_4XX = f'mainplatform_http_requests_total{{{BACKEND},status=~"4.."}}'
BUCKETS = f"mainplatform_http_request_duration_seconds_bucket{{{BACKEND}}}"


def ratio_or_zero(part: str, whole: str, by: str = "") -> str:
    """sum(rate(part)) / sum(rate(whole)), with 0 (not "no data") while `part` has no series."""
    agg = f"sum{f' by ({by})' if by else ''}"
    return (
        f"({agg} (rate({part}[5m])) or {agg} (rate({whole}[5m])) * 0) / {agg} (rate({whole}[5m]))"
    )


def quantile(q: float, buckets: str, by: str = "") -> str:
    return f"histogram_quantile({q}, sum by (le{', ' + by if by else ''}) (rate({buckets}[5m])))"


def overview() -> dict[str, Any]:
    return dashboard(
        "mainplatform-overview",
        "Main Platform / Overview",
        "The API as a whole: traffic, errors, latency per route, concurrency, DB pool.",
        [
            [
                stat(
                    "Targets up",
                    "Every Prometheus scrape target, by job (1 = up).",
                    [target("up", "{{job}}")],
                    thresholds=[(None, "red"), (1, "green")],
                    mappings=UP_DOWN,
                ),
                stat(
                    "Request rate",
                    "Backend requests per second, all routes, over 5 minutes.",
                    [target(f"sum(rate({REQUESTS}[5m]))")],
                    unit="reqps",
                ),
                stat(
                    "5xx ratio",
                    "Share of backend responses that were 5xx over 5 minutes. Alert High5xxRatio: above 5%.",
                    [target(ratio_or_zero(REQUESTS_5XX, REQUESTS))],
                    unit="percentunit",
                    thresholds=[(None, "green"), (0.01, "orange"), (0.05, "red")],
                ),
                stat(
                    "p99 latency",
                    "99th percentile of the response time, all routes, over 5 minutes.",
                    [target(quantile(0.99, BUCKETS))],
                    unit="s",
                    thresholds=[(None, "green"), (0.25, "orange"), (0.5, "red")],
                ),
                stat(
                    "In flight",
                    "Requests being answered right now, all workers.",
                    [target(f"sum(mainplatform_http_requests_in_flight{{{BACKEND}}})")],
                ),
                stat(
                    "Version",
                    "Backend version (mainplatform_build_info).",
                    [
                        target(
                            f"max by (version) (mainplatform_build_info{{{BACKEND}}})",
                            "{{version}}",
                        )
                    ],
                    text_mode="name",
                ),
            ],
            [
                timeseries(
                    "Requests per second by route",
                    "Per route template (never raw paths).",
                    [target(f"sum by (route) (rate({REQUESTS}[5m]))", "{{route}}")],
                    unit="reqps",
                    stack=True,
                ),
                timeseries(
                    "Responses by status",
                    "Responses per second by HTTP status code.",
                    [target(f"sum by (status) (rate({REQUESTS}[5m]))", "{{status}}")],
                    unit="reqps",
                    stack=True,
                ),
            ],
            [
                timeseries(
                    "Error ratio",
                    "Share of 5xx (server errors; alert above 5%) and of 4xx (refused requests) among all responses.",
                    [
                        target(ratio_or_zero(REQUESTS_5XX, REQUESTS), "5xx"),
                        target(ratio_or_zero(REQUESTS_4XX, REQUESTS), "4xx"),
                    ],
                    unit="percentunit",
                ),
                timeseries(
                    "In-flight requests",
                    "Requests being answered, all workers together.",
                    [
                        target(
                            f"sum(mainplatform_http_requests_in_flight{{{BACKEND}}})", "in flight"
                        )
                    ],
                ),
            ],
            [
                timeseries(
                    "p99 latency by route",
                    "99th percentile over 5 minutes; the budget (alert LatencyP99OverBudget) is 500 ms.",
                    [target(quantile(0.99, BUCKETS, "route"), "{{route}}")],
                    unit="s",
                ),
                timeseries(
                    "p50 latency by route",
                    "Median response time over 5 minutes.",
                    [target(quantile(0.5, BUCKETS, "route"), "{{route}}")],
                    unit="s",
                ),
            ],
            [
                timeseries(
                    "Latency percentiles, all routes",
                    "p50, p90 and p99 of every request over 5 minutes.",
                    [
                        target(quantile(0.5, BUCKETS), "p50"),
                        target(quantile(0.9, BUCKETS), "p90"),
                        target(quantile(0.99, BUCKETS), "p99"),
                    ],
                    unit="s",
                ),
                timeseries(
                    "Database pool connections",
                    "The backend's psycopg pool, all workers: size, idle, in use, and requests waiting for a connection (alert BackendDbPoolWaiting).",
                    [
                        target(
                            f"sum by (state) (mainplatform_db_pool_connections{{{BACKEND}}})",
                            "{{state}}",
                        )
                    ],
                ),
            ],
        ],
    )


def auth_event(event: str) -> str:
    return f'mainplatform_auth_events_total{{{BACKEND},event="{event}"}}'


def per_minute(event: str) -> str:
    return f"sum(rate({auth_event(event)}[5m])) * 60 or vector(0)"


def count_in(event: str, window: str) -> str:
    return f"sum(increase({auth_event(event)}[{window}])) or vector(0)"


def auth() -> dict[str, Any]:
    counts = dict(unit="short", decimals=0)
    return dashboard(
        "mainplatform-auth",
        "Main Platform / Auth",
        "Sign-ins, refresh-token rotation and reuse, rate limiting, account events.",
        [
            [
                stat(
                    "Logins OK (1h)",
                    "Successful sign-ins (password or OIDC) in the last hour.",
                    [target(count_in("login_success", "1h"))],
                    **counts,
                ),
                stat(
                    "Logins failed (1h)",
                    "Failed sign-ins in the last hour. Alert LoginFailureSpike: more than 50 in 10 minutes.",
                    [target(count_in("login_failure", "1h"))],
                    thresholds=[(None, "green"), (20, "orange"), (50, "red")],
                    **counts,
                ),
                stat(
                    "Refreshes (1h)",
                    "Refresh-token rotations in the last hour.",
                    [target(count_in("refresh", "1h"))],
                    **counts,
                ),
                stat(
                    "Reuse detected (24h)",
                    "Refresh tokens presented again after use (family revoked) in the last day. Alert RefreshTokenReuseDetected.",
                    [target(count_in("refresh_reuse_detected", "24h"))],
                    thresholds=[(None, "green"), (1, "red")],
                    **counts,
                ),
                stat(
                    "Rate limited (1h)",
                    "Requests answered 429 by the backend's rate limits in the last hour.",
                    [target(count_in("rate_limited", "1h"))],
                    thresholds=[(None, "green"), (1, "orange")],
                    **counts,
                ),
                stat(
                    "Registrations (24h)",
                    "New accounts in the last day.",
                    [target(count_in("register", "24h"))],
                    **counts,
                ),
            ],
            [
                timeseries(
                    "Logins per minute",
                    "Successful and failed sign-ins per minute (5-minute rate).",
                    [
                        target(per_minute("login_success"), "ok"),
                        target(per_minute("login_failure"), "failed"),
                    ],
                ),
                timeseries(
                    "Login failure ratio",
                    "Failed sign-ins as a share of all sign-in attempts (empty while there are none).",
                    [
                        target(
                            f"(sum(rate({auth_event('login_failure')}[5m])) or vector(0))"
                            f" / ((sum(rate({auth_event('login_failure')}[5m])) or vector(0))"
                            f" + (sum(rate({auth_event('login_success')}[5m])) or vector(0)))",
                            "failed / all",
                        )
                    ],
                    unit="percentunit",
                    max_value=1,
                ),
            ],
            [
                timeseries(
                    "Token refreshes per minute",
                    "Refresh-token rotations, retries answered with the same successor within the reuse grace window, and refreshes refused (expired, revoked or unknown token).",
                    [
                        target(per_minute("refresh"), "refreshed"),
                        target(per_minute("refresh_retried"), "retried (grace)"),
                        target(per_minute("refresh_rejected"), "rejected"),
                    ],
                ),
                timeseries(
                    "Refresh-token reuse detected",
                    "Reuse detections per 5 minutes: each one revoked a whole session family.",
                    [target(count_in("refresh_reuse_detected", "5m"), "reuse detected")],
                    bars=True,
                    decimals=0,
                ),
            ],
            [
                timeseries(
                    "Rate limited and rejected tokens per minute",
                    "429s from the backend's rate limits, and access tokens refused (bad signature, expired, revoked).",
                    [
                        target(per_minute("rate_limited"), "rate limited"),
                        target(per_minute("token_rejected"), "token rejected"),
                    ],
                ),
                timeseries(
                    "Account events per minute",
                    "Registrations, logouts, logouts everywhere and password changes.",
                    [
                        target(per_minute("register"), "register"),
                        target(per_minute("logout"), "logout"),
                        target(per_minute("logout_all"), "logout all"),
                        target(per_minute("password_changed"), "password changed"),
                    ],
                ),
            ],
            [
                timeseries(
                    "All auth events per minute",
                    "Every mainplatform_auth_events_total event, per minute.",
                    [
                        target(
                            f"sum by (event) (rate(mainplatform_auth_events_total{{{BACKEND}}}[5m])) * 60",
                            "{{event}}",
                        )
                    ],
                    stack=True,
                ),
                timeseries(
                    "Auth routes p99 latency",
                    "99th percentile of /api/auth/* response times: login and register hash with Argon2 and queue under load.",
                    [
                        target(
                            quantile(
                                0.99,
                                f'mainplatform_http_request_duration_seconds_bucket{{{BACKEND},route=~"/api/auth/.*"}}',
                                "route",
                            ),
                            "{{route}}",
                        )
                    ],
                    unit="s",
                ),
            ],
        ],
    )


TRAEFIK = 'job="traefik"'
EP_REQUESTS = f"traefik_entrypoint_requests_total{{{TRAEFIK}}}"
SVC_REQUESTS = f"traefik_service_requests_total{{{TRAEFIK}}}"


def traefik() -> dict[str, Any]:
    return dashboard(
        "mainplatform-traefik",
        "Main Platform / Traefik",
        "The reverse proxy: traffic per entrypoint and service, status codes, latency, connections, health checks, configuration reloads.",
        [
            [
                up_stat(
                    "Traefik up",
                    "Prometheus can scrape Traefik's metrics entrypoint.",
                    f"up{{{TRAEFIK}}}",
                ),
                stat(
                    "Request rate",
                    "Requests per second on every entrypoint, over 5 minutes.",
                    [target(f"sum(rate({EP_REQUESTS}[5m]))")],
                    unit="reqps",
                ),
                stat(
                    "Open connections",
                    "Open connections on every entrypoint.",
                    [target(f"sum(traefik_open_connections{{{TRAEFIK}}})")],
                ),
                stat(
                    "Config reloads",
                    "Dynamic configuration reloads since Traefik started.",
                    [target(f"sum(traefik_config_reloads_total{{{TRAEFIK}}})")],
                    decimals=0,
                ),
                stat(
                    "Since last config reload",
                    "Time since the last successful configuration reload.",
                    [target(f"time() - max(traefik_config_last_reload_success{{{TRAEFIK}}})")],
                    unit="s",
                ),
                stat(
                    "Backend servers healthy",
                    "Traefik's health check of each load-balanced server (1 = up). Alert TraefikBackendUnhealthy.",
                    [target(f"traefik_service_server_up{{{TRAEFIK}}}", "{{service}}")],
                    thresholds=[(None, "red"), (1, "green")],
                    mappings=UP_DOWN,
                ),
            ],
            [
                timeseries(
                    "Requests per second by entrypoint",
                    "Everything that reached Traefik, including requests no router matched (404).",
                    [target(f"sum by (entrypoint) (rate({EP_REQUESTS}[5m]))", "{{entrypoint}}")],
                    unit="reqps",
                ),
                timeseries(
                    "Responses by code",
                    "Responses per second by status code, all entrypoints (429: Traefik's per-IP rate limit or the backend's).",
                    [target(f"sum by (code) (rate({EP_REQUESTS}[5m]))", "{{code}}")],
                    unit="reqps",
                    stack=True,
                ),
            ],
            [
                timeseries(
                    "Requests per second by service",
                    "Requests forwarded to each service (backend, frontend).",
                    [target(f"sum by (service) (rate({SVC_REQUESTS}[5m]))", "{{service}}")],
                    unit="reqps",
                ),
                timeseries(
                    "5xx ratio by service",
                    "Share of each service's responses that were 5xx (including 502/504 from Traefik when the service is unreachable).",
                    [
                        target(
                            ratio_or_zero(
                                f'traefik_service_requests_total{{{TRAEFIK},code=~"5.."}}',
                                SVC_REQUESTS,
                                by="service",
                            ),
                            "{{service}}",
                        )
                    ],
                    unit="percentunit",
                ),
            ],
            [
                timeseries(
                    "Entrypoint latency",
                    "p50 and p99 of the time Traefik took to answer, per entrypoint.",
                    [
                        target(
                            quantile(
                                0.5,
                                f"traefik_entrypoint_request_duration_seconds_bucket{{{TRAEFIK}}}",
                                "entrypoint",
                            ),
                            "p50 {{entrypoint}}",
                        ),
                        target(
                            quantile(
                                0.99,
                                f"traefik_entrypoint_request_duration_seconds_bucket{{{TRAEFIK}}}",
                                "entrypoint",
                            ),
                            "p99 {{entrypoint}}",
                        ),
                    ],
                    unit="s",
                ),
                timeseries(
                    "Service latency p99",
                    "99th percentile of each service's response time as Traefik sees it.",
                    [
                        target(
                            quantile(
                                0.99,
                                f"traefik_service_request_duration_seconds_bucket{{{TRAEFIK}}}",
                                "service",
                            ),
                            "{{service}}",
                        )
                    ],
                    unit="s",
                ),
            ],
            [
                timeseries(
                    "Open connections by entrypoint",
                    "Open TCP connections per entrypoint.",
                    [
                        target(
                            f"sum by (entrypoint) (traefik_open_connections{{{TRAEFIK}}})",
                            "{{entrypoint}}",
                        )
                    ],
                ),
                timeseries(
                    "429 responses per second",
                    "Requests refused with 429 (Traefik's per-IP limit on /api, or the backend's own limits).",
                    [
                        target(
                            f'sum(rate(traefik_entrypoint_requests_total{{{TRAEFIK},code="429"}}[5m])) or vector(0)',
                            "429",
                        )
                    ],
                    unit="reqps",
                ),
            ],
        ],
    )


POSTGRES = 'job="postgres"'
DATABASES = f'{POSTGRES},datname!~"template.*"'


def pg_rate(column: str, by: str = "datname") -> str:
    return f"sum by ({by}) (rate(pg_stat_database_{column}{{{DATABASES}}}[5m]))"


def backup_age(kind: str) -> str:
    return f'time() - max(mainplatform_backup_last_success_timestamp_seconds{{job="node",kind="{kind}"}})'


BACKUP_THRESHOLDS: list[tuple[float | None, str]] = [
    (None, "green"),
    (86400, "orange"),
    (90000, "red"),
]


def postgres() -> dict[str, Any]:
    return dashboard(
        "mainplatform-postgres",
        "Main Platform / PostgreSQL",
        "PostgreSQL 16 through postgres_exporter (job postgres), and the backend's own connection pool.",
        [
            [
                up_stat(
                    "PostgreSQL up",
                    "postgres_exporter can connect to PostgreSQL (pg_up).",
                    f"pg_up{{{POSTGRES}}}",
                ),
                stat(
                    "Connections",
                    "Backends connected to every database.",
                    [target(f"sum(pg_stat_database_numbackends{{{POSTGRES}}})")],
                ),
                stat(
                    "Max connections",
                    "The server's max_connections.",
                    [target(f"max(pg_settings_max_connections{{{POSTGRES}}})")],
                ),
                stat(
                    "Total size",
                    "Disk used by every database except the templates.",
                    [target(f"sum(pg_database_size_bytes{{{DATABASES}}})")],
                    unit="bytes",
                ),
                stat(
                    "Transactions",
                    "Commits and rollbacks per second, every database.",
                    [
                        target(
                            f"sum(rate(pg_stat_database_xact_commit{{{DATABASES}}}[5m])) + sum(rate(pg_stat_database_xact_rollback{{{DATABASES}}}[5m]))"
                        )
                    ],
                    unit="ops",
                ),
                stat(
                    "Last backup",
                    "Age of the last successful PostgreSQL backup (alert BackupTooOld after a day).",
                    [target(backup_age("postgres"))],
                    unit="s",
                    thresholds=BACKUP_THRESHOLDS,
                ),
            ],
            [
                timeseries(
                    "Connections by database",
                    "Backends connected per database, against max_connections.",
                    [
                        target(
                            f"sum by (datname) (pg_stat_database_numbackends{{{DATABASES}}})",
                            "{{datname}}",
                        ),
                        target(
                            f"max(pg_settings_max_connections{{{POSTGRES}}})", "max_connections"
                        ),
                    ],
                ),
                timeseries(
                    "Transactions per second",
                    "Commits and rollbacks per database.",
                    [
                        target(pg_rate("xact_commit"), "commit {{datname}}"),
                        target(pg_rate("xact_rollback"), "rollback {{datname}}"),
                    ],
                    unit="ops",
                ),
            ],
            [
                timeseries(
                    "Buffer cache hit ratio",
                    "Blocks found in shared buffers as a share of all blocks read (empty while idle).",
                    [
                        target(
                            f"{pg_rate('blks_hit')} / ({pg_rate('blks_hit')} + {pg_rate('blks_read')})",
                            "{{datname}}",
                        )
                    ],
                    unit="percentunit",
                    max_value=1,
                ),
                timeseries(
                    "Rows per second",
                    "Rows returned, fetched, inserted, updated and deleted, every database.",
                    [
                        target(f"sum(rate(pg_stat_database_tup_{op}{{{DATABASES}}}[5m]))", op)
                        for op in ("returned", "fetched", "inserted", "updated", "deleted")
                    ],
                    unit="rowsps",
                ),
            ],
            [
                timeseries(
                    "Deadlocks and temporary files",
                    "Deadlocks per 5 minutes, and bytes written to temporary files per second (queries spilling out of work_mem).",
                    [
                        target(
                            f"sum(increase(pg_stat_database_deadlocks{{{DATABASES}}}[5m]))",
                            "deadlocks",
                        ),
                        target(
                            f"sum(rate(pg_stat_database_temp_bytes{{{DATABASES}}}[5m]))",
                            "temp bytes/s",
                        ),
                    ],
                ),
                timeseries(
                    "Database size",
                    "Disk used per database.",
                    [
                        target(
                            f"sum by (datname) (pg_database_size_bytes{{{DATABASES}}})",
                            "{{datname}}",
                        )
                    ],
                    unit="bytes",
                ),
            ],
            [
                timeseries(
                    "Backend pool connections",
                    "The backend's side: its pool's size, idle and in-use connections, and requests waiting for one.",
                    [
                        target(
                            f"sum by (state) (mainplatform_db_pool_connections{{{BACKEND}}})",
                            "{{state}}",
                        )
                    ],
                ),
            ],
        ],
    )


REDIS = 'job="redis"'


def redis() -> dict[str, Any]:
    hits = f"sum(rate(redis_keyspace_hits_total{{{REDIS}}}[5m]))"
    misses = f"sum(rate(redis_keyspace_misses_total{{{REDIS}}}[5m]))"
    return dashboard(
        "mainplatform-redis",
        "Main Platform / Redis",
        "Redis 7 through redis_exporter (job redis): rate limits, revocation lists and caches live here.",
        [
            [
                up_stat(
                    "Redis up",
                    "redis_exporter can connect to Redis (redis_up).",
                    f"redis_up{{{REDIS}}}",
                ),
                stat(
                    "Connected clients",
                    "Client connections (the backend's workers and the exporter).",
                    [target(f"sum(redis_connected_clients{{{REDIS}}})")],
                ),
                stat(
                    "Memory used",
                    "Memory Redis has allocated (used_memory).",
                    [target(f"sum(redis_memory_used_bytes{{{REDIS}}})")],
                    unit="bytes",
                ),
                stat(
                    "Keys",
                    "Keys in every database.",
                    [target(f"sum(redis_db_keys{{{REDIS}}})")],
                ),
                stat(
                    "Uptime",
                    "Time since Redis started.",
                    [target(f"max(redis_uptime_in_seconds{{{REDIS}}})")],
                    unit="s",
                ),
                stat(
                    "Last backup",
                    "Age of the last successful Redis backup (alert BackupTooOld after a day).",
                    [target(backup_age("redis"))],
                    unit="s",
                    thresholds=BACKUP_THRESHOLDS,
                ),
            ],
            [
                timeseries(
                    "Commands per second",
                    "Commands processed per second (each authenticated API request runs one rate-limit and revocation script).",
                    [
                        target(
                            f"sum(rate(redis_commands_processed_total{{{REDIS}}}[5m]))", "commands"
                        )
                    ],
                    unit="ops",
                ),
                timeseries(
                    "Keyspace hit ratio",
                    "Key lookups that found the key (empty while there are no lookups).",
                    [target(f"{hits} / ({hits} + {misses})", "hit ratio")],
                    unit="percentunit",
                    max_value=1,
                ),
            ],
            [
                timeseries(
                    "Hits and misses per second",
                    "Key lookups that found, and did not find, the key.",
                    [target(hits, "hits"), target(misses, "misses")],
                    unit="ops",
                ),
                timeseries(
                    "Memory",
                    "used_memory, its resident size, and maxmemory (0: no limit).",
                    [
                        target(f"sum(redis_memory_used_bytes{{{REDIS}}})", "used"),
                        target(f"sum(redis_memory_used_rss_bytes{{{REDIS}}})", "rss"),
                        target(f"sum(redis_memory_max_bytes{{{REDIS}}})", "maxmemory"),
                    ],
                    unit="bytes",
                ),
            ],
            [
                timeseries(
                    "Clients",
                    "Connected clients, and clients blocked in a blocking call.",
                    [
                        target(f"sum(redis_connected_clients{{{REDIS}}})", "connected"),
                        target(f"sum(redis_blocked_clients{{{REDIS}}})", "blocked"),
                    ],
                ),
                timeseries(
                    "Expired and evicted keys per second",
                    "Keys removed because their TTL ran out, and keys evicted under maxmemory.",
                    [
                        target(f"sum(rate(redis_expired_keys_total{{{REDIS}}}[5m]))", "expired"),
                        target(f"sum(rate(redis_evicted_keys_total{{{REDIS}}}[5m]))", "evicted"),
                    ],
                    unit="ops",
                ),
            ],
            [
                timeseries(
                    "Keys by database",
                    "Keys per Redis database.",
                    [target(f"sum by (db) (redis_db_keys{{{REDIS}}})", "{{db}}")],
                ),
                timeseries(
                    "Network traffic",
                    "Bytes received and sent per second.",
                    [
                        target(f"sum(rate(redis_net_input_bytes_total{{{REDIS}}}[5m]))", "in"),
                        target(f"sum(rate(redis_net_output_bytes_total{{{REDIS}}}[5m]))", "out"),
                    ],
                    unit="Bps",
                ),
            ],
        ],
    )


NODE = 'job="node"'
REAL_FS = f'{NODE},fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs|fuse.*"'
REAL_DISKS = f'{NODE},device!~"loop.*|ram.*|zram.*"'


def host() -> dict[str, Any]:
    cpus = f"count(count by (cpu) (node_cpu_seconds_total{{{NODE}}}))"
    return dashboard(
        "mainplatform-host",
        "Main Platform / Host",
        "The machine through node_exporter (job node): CPU, memory, disks, network, backups.",
        [
            [
                stat(
                    "CPU busy",
                    "Share of CPU time not idle, all cores, over 5 minutes.",
                    [target(f'1 - avg(rate(node_cpu_seconds_total{{{NODE},mode="idle"}}[5m]))')],
                    unit="percentunit",
                    thresholds=[(None, "green"), (0.7, "orange"), (0.9, "red")],
                ),
                stat(
                    "Memory used",
                    "1 - MemAvailable / MemTotal.",
                    [
                        target(
                            f"1 - sum(node_memory_MemAvailable_bytes{{{NODE}}}) / sum(node_memory_MemTotal_bytes{{{NODE}}})"
                        )
                    ],
                    unit="percentunit",
                    thresholds=[(None, "green"), (0.8, "orange"), (0.9, "red")],
                ),
                stat(
                    "Root filesystem used",
                    "Share of / in use (alerts DiskFilling and DiskAlmostFull watch every real filesystem).",
                    [
                        target(
                            f'1 - sum(node_filesystem_avail_bytes{{{NODE},mountpoint="/"}})'
                            f' / sum(node_filesystem_size_bytes{{{NODE},mountpoint="/"}})'
                        )
                    ],
                    unit="percentunit",
                    thresholds=[(None, "green"), (0.85, "orange"), (0.95, "red")],
                ),
                stat(
                    "Load (1m)",
                    "One-minute load average.",
                    [target(f"max(node_load1{{{NODE}}})")],
                    decimals=2,
                ),
                stat(
                    "CPUs",
                    "Logical CPUs.",
                    [target(cpus)],
                ),
                stat(
                    "Uptime",
                    "Time since boot.",
                    [target(f"time() - max(node_boot_time_seconds{{{NODE}}})")],
                    unit="s",
                ),
            ],
            [
                timeseries(
                    "CPU usage by mode",
                    "Share of CPU time per mode (idle left out), averaged over the cores.",
                    [
                        target(
                            f'avg by (mode) (rate(node_cpu_seconds_total{{{NODE},mode!="idle"}}[5m]))',
                            "{{mode}}",
                        )
                    ],
                    unit="percentunit",
                    stack=True,
                ),
                timeseries(
                    "Load average",
                    "1, 5 and 15-minute load averages against the number of CPUs.",
                    [
                        target(f"max(node_load1{{{NODE}}})", "1m"),
                        target(f"max(node_load5{{{NODE}}})", "5m"),
                        target(f"max(node_load15{{{NODE}}})", "15m"),
                        target(cpus, "CPUs"),
                    ],
                ),
            ],
            [
                timeseries(
                    "Memory",
                    "Total, available, and in use (total - available).",
                    [
                        target(f"sum(node_memory_MemTotal_bytes{{{NODE}}})", "total"),
                        target(f"sum(node_memory_MemAvailable_bytes{{{NODE}}})", "available"),
                        target(
                            f"sum(node_memory_MemTotal_bytes{{{NODE}}}) - sum(node_memory_MemAvailable_bytes{{{NODE}}})",
                            "used",
                        ),
                    ],
                    unit="bytes",
                ),
                timeseries(
                    "Filesystem free",
                    "Free share of each real filesystem (alerts: DiskFilling below 15% and falling, DiskAlmostFull below 5%).",
                    [
                        target(
                            f"node_filesystem_avail_bytes{{{REAL_FS}}} / node_filesystem_size_bytes{{{REAL_FS}}}",
                            "{{mountpoint}}",
                        )
                    ],
                    unit="percentunit",
                    max_value=1,
                ),
            ],
            [
                timeseries(
                    "Disk I/O",
                    "Bytes read and written per second, per disk.",
                    [
                        target(
                            f"sum by (device) (rate(node_disk_read_bytes_total{{{REAL_DISKS}}}[5m]))",
                            "read {{device}}",
                        ),
                        target(
                            f"sum by (device) (rate(node_disk_written_bytes_total{{{REAL_DISKS}}}[5m]))",
                            "written {{device}}",
                        ),
                    ],
                    unit="Bps",
                ),
                timeseries(
                    "Network traffic",
                    "Bytes received and sent per second, per interface (loopback left out).",
                    [
                        target(
                            f'sum by (device) (rate(node_network_receive_bytes_total{{{NODE},device!="lo"}}[5m]))',
                            "in {{device}}",
                        ),
                        target(
                            f'sum by (device) (rate(node_network_transmit_bytes_total{{{NODE},device!="lo"}}[5m]))',
                            "out {{device}}",
                        ),
                    ],
                    unit="Bps",
                ),
            ],
            [
                timeseries(
                    "Backup age",
                    "Time since the last successful backup of each kind, from the backup units' textfile metric (alert BackupTooOld after a day).",
                    [
                        target(
                            f"time() - max by (kind) (mainplatform_backup_last_success_timestamp_seconds{{{NODE}}})",
                            "{{kind}}",
                        )
                    ],
                    unit="s",
                ),
            ],
        ],
    )


def build() -> dict[str, dict[str, Any]]:
    """File name -> dashboard."""
    boards = [overview(), auth(), traefik(), postgres(), redis(), host()]
    return {f"{b['uid'].removeprefix('mainplatform-')}.json": b for b in boards}


def render(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    wanted = build()
    OUT.mkdir(exist_ok=True)
    for name, board in wanted.items():
        path = OUT / name
        text = render(board)
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            stale.append(name)
            if not check:
                path.write_text(text, encoding="utf-8")
    extra = sorted(p.name for p in OUT.glob("*.json") if p.name not in wanted)
    if check:
        for name in stale:
            print(f"out of date: dashboards/{name}", file=sys.stderr)
        for name in extra:
            print(f"not generated by this script: dashboards/{name}", file=sys.stderr)
        return 1 if stale or extra else 0
    for name in stale:
        print(f"wrote dashboards/{name}")
    for name in extra:
        print(f"warning: dashboards/{name} is not generated by this script", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
