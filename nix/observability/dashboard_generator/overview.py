# ruff: noqa: E501  (long query strings and panel descriptions read better unwrapped)
"""The Overview dashboard: the API as a whole (traffic, errors, latency, concurrency, DB pool)."""

from __future__ import annotations

from .grafana import UP_DOWN, Dashboard, dashboard, stat, target, timeseries
from .promql import BACKEND, quantile, ratio_or_zero

REQUESTS = f"mainplatform_http_requests_total{{{BACKEND}}}"
REQUESTS_5XX = f'mainplatform_http_requests_total{{{BACKEND},status=~"5.."}}'
REQUESTS_4XX = f'mainplatform_http_requests_total{{{BACKEND},status=~"4.."}}'
BUCKETS = f"mainplatform_http_request_duration_seconds_bucket{{{BACKEND}}}"


def board() -> Dashboard:
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
