"""Prometheus scraping the local stack: every target up, and every query we ship evaluates."""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx2 as httpx
import pytest
from mainplatform_dev.stack import Stack

from tests.support import STRONG_PASSWORD


def prom(stack: Stack, path: str, **params: str) -> Any:
    r = httpx.get(f"http://127.0.0.1:{stack.port('prometheus')}{path}", params=params, timeout=10)
    body = r.json()
    assert body["status"] == "success", body
    return body["data"]


def traffic(stack: Stack) -> None:
    """What a few users do: pages, sign-ups, logins (one wrong), notes, refresh, logout."""
    with httpx.Client(base_url=stack.url) as c:
        for i in range(5):
            c.get("/api/health")
            c.get("/")
            c.get("/api/nope")
            email = f"prom-{i}-{secrets.token_hex(3)}@example.org"
            c.post("/api/auth/register", json={"email": email, "password": STRONG_PASSWORD})
            c.post("/api/auth/login", json={"email": email, "password": "not the password"})
            r = c.post("/api/auth/login", json={"email": email, "password": STRONG_PASSWORD})
            auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
            c.post("/api/notes", json={"title": "hello"}, headers=auth)
            c.get("/api/notes", headers=auth)
            c.post("/api/auth/refresh", headers={"Content-Type": "application/json"})
            c.post("/api/auth/logout", headers=auth)


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


def test_every_dashboard_and_rule_query_returns_data(scraped: Stack) -> None:
    """Each PromQL expression we ship runs against the live stack without error, and returns
    data unless `empty_reason` names why it legitimately cannot yet (alert not firing, an
    exporter this machine does not run, no backup taken)."""
    from tests.observability.queries import all_queries, empty_reason

    jobs = {t["labels"]["job"] for t in prom(scraped, "/api/v1/targets")["activeTargets"]}
    # rules are evaluated every 2 s here; make sure the recording rules have run
    deadline = time.monotonic() + 30
    while not prom(scraped, "/api/v1/query", query="job:mainplatform_http_requests:rate5m")[
        "result"
    ]:
        assert time.monotonic() < deadline, "recording rules never produced a series"
        time.sleep(0.5)
    queries = all_queries()
    assert len(queries) > 50
    empty_without_reason = []
    for q in queries:
        result = prom(scraped, "/api/v1/query", query=q.expr)["result"]
        if not result and empty_reason(q, jobs) is None:
            empty_without_reason.append(f"{q.source}: {q.expr}")
    assert not empty_without_reason, "\n".join(empty_without_reason)


def test_rules_are_loaded_and_healthy(scraped: Stack) -> None:
    groups = prom(scraped, "/api/v1/rules")["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert len(rules) >= 20
    unhealthy = [
        (r["name"], r.get("lastError")) for r in rules if r["health"] not in ("ok", "unknown")
    ]
    assert not unhealthy


@pytest.mark.parametrize(
    ("job", "role", "metric"),
    [("postgres", "postgres-exporter", "pg_up"), ("redis", "redis-exporter", "redis_up")],
)
def test_the_database_exporters_are_live(scraped: Stack, job: str, role: str, metric: str) -> None:
    """With Debian's exporter installed (CI installs both), the stack runs it, Prometheus
    scrapes it, and it reaches its database: the dashboards' queries above then ran against
    a live exporter, not against a list of metric names."""
    from mainplatform_dev.stack import PROGRAMS, find

    if find(role) is None:
        pytest.skip(f"{PROGRAMS[role][-1]} is not installed: apt-get install {PROGRAMS[role][-1]}")
    jobs = {
        t["labels"]["job"]: t["health"] for t in prom(scraped, "/api/v1/targets")["activeTargets"]
    }
    assert jobs.get(job) == "up", jobs
    result = prom(scraped, "/api/v1/query", query=f'{metric}{{job="{job}"}}')["result"]
    assert [float(r["value"][1]) for r in result] == [1.0], result
