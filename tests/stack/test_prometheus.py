"""Prometheus scraping the local stack: every target up, and every query we ship evaluates."""

from __future__ import annotations

import time
from typing import Any

import httpx2 as httpx
import pytest

from mainplatform.devstack import Stack


def prom(stack: Stack, path: str, **params: str) -> Any:
    r = httpx.get(f"http://127.0.0.1:{stack.port('prometheus')}{path}", params=params, timeout=10)
    body = r.json()
    assert body["status"] == "success", body
    return body["data"]


def traffic(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url) as c:
        for _ in range(5):
            c.get("/api/health")
            c.get("/")
            c.get("/api/nope")


@pytest.fixture(scope="module")
def scraped(stack: Stack) -> Stack:
    """Traffic, then wait until every target has been scraped successfully."""
    traffic(stack)
    deadline = time.monotonic() + 60
    while True:
        targets = prom(stack, "/api/v1/targets")["activeTargets"]
        if targets and all(t["health"] == "up" for t in targets):
            break
        assert time.monotonic() < deadline, [
            (t["labels"]["job"], t["health"], t["lastError"]) for t in targets
        ]
        time.sleep(0.5)
    time.sleep(5)  # two more scrapes, so rate() has two samples
    return stack


def test_every_target_is_up(scraped: Stack) -> None:
    targets = prom(scraped, "/api/v1/targets")["activeTargets"]
    jobs = {t["labels"]["job"]: t["health"] for t in targets}
    assert {"backend", "traefik", "prometheus"} <= set(jobs)
    assert set(jobs.values()) == {"up"}, jobs


def test_backend_metrics_arrive(scraped: Stack) -> None:
    result = prom(
        scraped, "/api/v1/query", query='sum(mainplatform_http_requests_total{route="/api/health"})'
    )
    assert result["result"], "no samples of the backend's request counter"
    assert float(result["result"][0]["value"][1]) >= 5
    result = prom(scraped, "/api/v1/query", query="sum(traefik_entrypoint_requests_total)")
    assert float(result["result"][0]["value"][1]) >= 15
