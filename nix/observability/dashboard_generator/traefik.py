# ruff: noqa: E501  (long query strings and panel descriptions read better unwrapped)
"""The Traefik dashboard: the reverse proxy's traffic, latency, connections and health checks."""

from __future__ import annotations

from .grafana import UP_DOWN, Dashboard, dashboard, stat, target, timeseries, up_stat
from .promql import quantile, ratio_or_zero

TRAEFIK = 'job="traefik"'
EP_REQUESTS = f"traefik_entrypoint_requests_total{{{TRAEFIK}}}"
SVC_REQUESTS = f"traefik_service_requests_total{{{TRAEFIK}}}"


def board() -> Dashboard:
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
