"""Users: a signed-in user of an in-process app (TestClient), the admin role, and the same
steps over HTTP against a running backend (to set data up quickly in browser tests)."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
import psycopg
from starlette.testclient import TestClient

from tests.support.services import Services

STRONG_PASSWORD = "correct horse battery staple 42"


class User:
    """A registered, signed-in user with helpers for authenticated calls."""

    def __init__(self, client: TestClient, email: str, password: str = STRONG_PASSWORD) -> None:
        self.client = client
        self.email = email
        self.password = password
        r = client.post("/api/auth/register", json={"email": email, "password": password})
        assert r.status_code == 201, r.text
        self.id: int = r.json()["id"]
        self.login()

    def login(self) -> httpx.Response:
        r = self.client.post(
            "/api/auth/login", json={"email": self.email, "password": self.password}
        )
        assert r.status_code == 200, r.text
        self.token: str = r.json()["access_token"]
        self.refresh_token: str = r.cookies["mp_refresh"]
        return r

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {**self.headers, **kw.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kw)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", path, **kw)


def make_admin(services: Services, user: User | int) -> None:
    """Give a user (a User, or a user id) the admin role."""
    user_id = user if isinstance(user, int) else user.id
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute("UPDATE users SET role = 'admin' WHERE id = %s", (user_id,))


# -- the API over HTTP, against a running backend ----------------------------------------------


def api_register(backend_url: str, email: str, password: str = STRONG_PASSWORD) -> int:
    r = httpx.post(
        f"{backend_url}/api/auth/register", json={"email": email, "password": password}, timeout=10
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def api_token(backend_url: str, email: str, password: str = STRONG_PASSWORD) -> str:
    r = httpx.post(
        f"{backend_url}/api/auth/login", json={"email": email, "password": password}, timeout=10
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def api_notes(backend_url: str, token: str, titles: list[str]) -> None:
    with httpx.Client(
        base_url=backend_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    ) as client:
        for title in titles:
            r = client.post("/api/notes", json={"title": title, "body": f"Body of {title}"})
            assert r.status_code == 201, r.text
