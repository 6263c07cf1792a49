"""Dependencies failing: Redis down (fail closed where revocation matters), PostgreSQL restarted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from mainplatform.app import create_app
from tests.support import STRONG_PASSWORD, Services, make_settings, throwaway_services

pytestmark = pytest.mark.slow


@pytest.fixture
def own_services() -> Iterator[Services]:
    """Servers of this test alone, so stopping them disturbs nothing else."""
    with throwaway_services("mainplatform-faults-") as svc:
        yield svc


@pytest.fixture
def client(own_services: Services) -> Iterator[TestClient]:
    settings = replace(
        make_settings(own_services.database_url, own_services.redis.url), db_pool_min=2
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def signed_in(client: TestClient) -> dict[str, str]:
    client.post("/api/auth/register", json={"email": "f@example.org", "password": STRONG_PASSWORD})
    r = client.post("/api/auth/login", json={"email": "f@example.org", "password": STRONG_PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_redis_down_then_back(client: TestClient, own_services: Services) -> None:
    rd = own_services.redis
    auth = signed_in(client)
    assert client.get("/api/notes", headers=auth).status_code == 200
    rd.stop()
    # public routes keep working
    assert client.get("/api/health").status_code == 200
    assert client.get("/api").status_code == 200
    assert client.get("/api/openapi.json").status_code == 200
    # readiness names what failed
    r = client.get("/api/ready")
    assert r.status_code == 503
    assert r.json()["checks"]["redis"].startswith("down") and r.json()["checks"]["postgres"] == "ok"
    # routes that need the revocation check (or a rate limit) fail closed
    for call in (
        lambda: client.get("/api/notes", headers=auth),
        lambda: client.post(
            "/api/auth/login", json={"email": "f@example.org", "password": STRONG_PASSWORD}
        ),
    ):
        r = call()
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "redis_unavailable"
        assert "retry-after" in r.headers
    rd.start()
    deadline = time.monotonic() + 10
    while client.get("/api/notes", headers=auth).status_code != 200:
        assert time.monotonic() < deadline, "the backend did not recover after Redis came back"
        time.sleep(0.2)
    assert client.get("/api/ready").status_code == 200


def test_postgres_restart(client: TestClient, own_services: Services) -> None:
    pg = own_services.postgres
    auth = signed_in(client)
    assert client.post("/api/notes", headers=auth, json={"title": "before"}).status_code == 201
    pg.stop("fast")
    r = client.get("/api/notes", headers=auth)
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "database_unavailable"
    assert client.get("/api/health").status_code == 200
    assert client.get("/api/ready").status_code == 503
    pg.start()
    deadline = time.monotonic() + 20
    while (r := client.get("/api/notes", headers=auth)).status_code != 200:
        assert r.status_code == 503, r.text
        assert time.monotonic() < deadline, "the pool did not reconnect"
        time.sleep(0.2)
    assert [n["title"] for n in r.json()["items"]] == ["before"]
    assert client.post("/api/notes", headers=auth, json={"title": "after"}).status_code == 201
