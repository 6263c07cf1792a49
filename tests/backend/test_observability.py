"""Metrics (route templates, auth events, several workers) and JSON access logs."""

from __future__ import annotations

import json
import re

import httpx2 as httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from tests.conftest import ClientFactory
from tests.support import STRONG_PASSWORD, User


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    out: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name:
                out[tuple(sorted(s.labels.items()))] = s.value
    return out


def test_metrics_use_route_templates(client: TestClient, user: User) -> None:
    note = user.post("/api/notes", json={"title": "m"}).json()
    user.get(f"/api/notes/{note['id']}")
    user.get("/api/notes/424242")
    client.get("/api/does-not-exist/123")
    text = client.get("/metrics").text
    requests = samples(text, "mainplatform_http_requests_total")
    routes = {dict(k)["route"] for k in requests}
    assert "/api/notes/{id:id}" in routes
    assert "unmatched" in routes
    assert not any(re.search(r"/\d+", r) for r in routes), routes
    key = (("method", "GET"), ("route", "/api/notes/{id:id}"), ("status", "404"))
    assert requests[key] == 1
    assert "mainplatform_http_request_duration_seconds_bucket" in text
    assert "mainplatform_http_requests_in_flight" in text


def test_auth_events_are_counted(client: TestClient, user: User) -> None:
    client.post("/api/auth/login", json={"email": user.email, "password": "wrong password!!"})
    first = user.refresh_token
    second = client.post("/api/auth/refresh", json={"refresh_token": first}).json()
    client.post("/api/auth/refresh", json={"refresh_token": first})  # a retry, within grace
    client.post("/api/auth/refresh", json={"refresh_token": second["refresh_token"]})
    client.post("/api/auth/refresh", json={"refresh_token": first})  # reuse of an old token
    events = {
        dict(k)["event"]: v
        for k, v in samples(client.get("/metrics").text, "mainplatform_auth_events_total").items()
    }
    assert events["login_success"] == 1
    assert events["login_failure"] == 1
    assert events["refresh"] == 2
    assert events["refresh_retried"] == 1
    assert events["refresh_reuse_detected"] == 1
    assert events["register"] == 1


def test_db_pool_gauge(client: TestClient) -> None:
    text = client.get("/metrics").text
    states = {dict(k)["state"] for k in samples(text, "mainplatform_db_pool_connections")}
    assert states == {"size", "idle", "in_use", "waiting"}


def test_metrics_is_outside_api(client: TestClient) -> None:
    assert client.get("/api/metrics").status_code == 404
    assert client.get("/metrics").headers["content-type"].startswith("text/plain")


def test_access_log_is_json_without_secrets(
    make_client: ClientFactory, capfd: pytest.CaptureFixture[str]
) -> None:
    client = make_client(access_log=True)
    user = User(client, "logme@example.org")
    user.post("/api/notes", json={"title": "t"}, headers={"X-Request-ID": "req-42"})
    client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    out = capfd.readouterr().out
    parsed = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(parsed) >= 4  # register, login, note, refresh
    note_line = next(p for p in parsed if p["request_id"] == "req-42")
    assert note_line["route"] == "/api/notes"
    assert note_line["status"] == 201
    assert note_line["user_id"] == user.id
    assert note_line["method"] == "POST"
    assert {"duration_ms", "time", "level"} <= set(note_line)
    refresh_line = parsed[-1]
    assert refresh_line["route"] == "/api/auth/refresh"
    assert refresh_line["user_id"] == user.id
    for secret in (STRONG_PASSWORD, user.token, user.refresh_token):
        assert secret not in out


def test_metrics_across_two_workers(backend_url: str) -> None:
    """Each worker counts its own requests; a scrape on any worker shows the sum."""
    with httpx.Client(base_url=backend_url) as http:
        before = samples(http.get("/metrics").text, "mainplatform_http_requests_total")
        key = (("method", "GET"), ("route", "/api/health"), ("status", "200"))
        n = 60
        for _ in range(n):
            http.get("/api/health", headers={"Connection": "close"})
        totals = {
            samples(
                http.get("/metrics", headers={"Connection": "close"}).text,
                "mainplatform_http_requests_total",
            ).get(key, 0)
            for _ in range(6)
        }
    assert totals == {before.get(key, 0) + n}, totals
