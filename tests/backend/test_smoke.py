from __future__ import annotations

from starlette.testclient import TestClient

from tests.support import User


def test_health_and_index(client: TestClient) -> None:
    r = client.get("/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["version"]
    assert client.get("/api").json()["name"] == "Main Platform API"


def test_register_login_notes(client: TestClient, user: User) -> None:
    r = user.post("/api/notes", json={"title": "hello", "body": "world"})
    assert r.status_code == 201, r.text
    r = user.get("/api/notes")
    assert r.status_code == 200
    assert [n["title"] for n in r.json()["items"]] == ["hello"]
