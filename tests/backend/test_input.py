"""Bad input is a clear 4xx JSON error, never a 500, and never changes data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests.support import User

WRITE_ROUTES = [
    ("POST", "/api/auth/register"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/refresh"),
    ("POST", "/api/auth/logout"),
    ("PATCH", "/api/users/me"),
    ("POST", "/api/users/me/password"),
    ("POST", "/api/notes"),
    ("PATCH", "/api/notes/1"),
    ("PATCH", "/api/admin/users/1"),
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(
    [
        "email",
        "password",
        "title",
        "body",
        "role",
        "disabled",
        "refresh_token",
        "current_password",
        "new_password",
        "display_name",
        "id",
        "owner_id",
    ]
)
objects = st.dictionaries(field_names, json_values, max_size=5)


def headers_for(path: str, user: User) -> dict[str, str]:
    """Authenticated, except for logout, which would end the session the other examples use."""
    auth = {} if path.endswith("/logout") else user.headers
    return {**auth, "Content-Type": "application/json"}


def assert_clean_error(r: Any) -> None:
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        body = r.json()
        assert set(body) == {"error"}
        assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)


@pytest.fixture
def admin(client: TestClient, services: Any) -> Iterator[User]:
    from tests.support import make_admin

    u = User(client, "admin@example.org")
    make_admin(services, u)
    u.post("/api/notes", json={"title": "keep me", "body": "intact"})
    yield u


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(route=st.sampled_from(WRITE_ROUTES), payload=objects | json_values)
def test_arbitrary_json_never_5xx(
    client: TestClient, admin: User, route: tuple[str, str], payload: Any
) -> None:
    method, path = route
    r = client.request(method, path, content=json.dumps(payload), headers=headers_for(path, admin))
    assert_clean_error(r)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(route=st.sampled_from(WRITE_ROUTES), raw=st.binary(max_size=200))
def test_arbitrary_bytes_never_5xx(
    client: TestClient, admin: User, route: tuple[str, str], raw: bytes
) -> None:
    method, path = route
    r = client.request(method, path, content=raw, headers=headers_for(path, admin))
    assert_clean_error(r)


def test_bad_input_does_not_touch_data(client: TestClient, admin: User) -> None:
    note = admin.get("/api/notes").json()["items"][0]
    for payload in (
        b"{",
        b'{"title": 5}',
        b'{"title": ""}',
        b"[]",
        b'{"body": null}',
        b'{"title":"x","x":1}',
    ):
        r = client.patch(
            f"/api/notes/{note['id']}",
            content=payload,
            headers={**admin.headers, "Content-Type": "application/json"},
        )
        assert 400 <= r.status_code < 500
    assert admin.get(f"/api/notes/{note['id']}").json() == note


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (b"{not json", 400, "malformed_json"),
        (b"", 400, "empty_body"),
        (b'{"email": 1, "password": "x"}', 422, "validation_failed"),
        (b'{"email": "a@b.co"}', 422, "validation_failed"),
        (b'{"email": "a@b.co", "password": "p", "admin": true}', 422, "validation_failed"),
        (b"[1, 2]", 422, "validation_failed"),
        (b'"just a string"', 422, "validation_failed"),
        (b"\xff\xfe\x00", 400, "invalid_encoding"),
        (b'{"email": "\xff", "password": "x"}', 400, "invalid_encoding"),
    ],
)
def test_error_shapes(client: TestClient, payload: bytes, status: int, code: str) -> None:
    r = client.post(
        "/api/auth/login", content=payload, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code


def test_field_details_name_the_field(client: TestClient) -> None:
    r = client.post("/api/auth/login", json={"email": 1, "password": "x"})
    assert r.json()["error"]["fields"] == [
        {"field": "email", "message": "Expected `str`, got `int`"}
    ]
    r = client.post("/api/auth/login", json={"email": "a@b.co"})
    assert r.json()["error"]["fields"] == [
        {"field": "password", "message": "This field is required."}
    ]
    r = client.post("/api/auth/login", json={"email": "a@b.co", "password": "x", "role": "admin"})
    assert r.json()["error"]["fields"] == [{"field": "role", "message": "Unknown field."}]


def test_wrong_content_type(client: TestClient) -> None:
    r = client.post(
        "/api/auth/login",
        content=b'{"email":"a@b.co","password":"x"}',
        headers={"Content-Type": "text/plain"},
    )
    assert r.status_code == 415


def test_huge_body_with_content_length(client: TestClient) -> None:
    r = client.post(
        "/api/auth/register",
        content=b"x" * (65 * 1024),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"


def test_huge_chunked_body(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b" " * 1024

    r = client.post(
        "/api/auth/register", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413


def test_invalid_content_length(client: TestClient) -> None:
    r = client.post(
        "/api/auth/login",
        content=b"{}",
        headers={"Content-Type": "application/json", "Content-Length": "abc"},
    )
    assert r.status_code in (400, 413)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Request-ID": "x" * 500},
        {"X-Request-ID": "bad id with spaces"},
        {"X-Forwarded-For": "not-an-ip, ::::, 999.1.1.1"},
        {"Origin": "null"},
        {"Host": "evil.example"},
        {"Cookie": "mp_refresh=" + "a" * 3000},
        {"Accept": "*/*" * 100},
    ],
)
def test_hostile_headers(client: TestClient, headers: dict[str, str]) -> None:
    for method, path in (("GET", "/api/health"), ("POST", "/api/auth/refresh")):
        r = client.request(method, path, headers={"Content-Type": "application/json", **headers})
        assert r.status_code < 500
        rid = r.headers["x-request-id"]
        assert rid != headers.get("X-Request-ID") and len(rid) <= 128


def test_request_id_is_echoed(client: TestClient) -> None:
    assert (
        client.get("/api/health", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    generated = client.get("/api/health").headers["x-request-id"]
    assert len(generated) == 32


def test_unknown_routes_and_methods(client: TestClient) -> None:
    r = client.get("/api/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.delete("/api/health")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    r = client.request("BREW", "/api/health")
    assert r.status_code == 405


def test_security_headers_on_api(client: TestClient) -> None:
    h = client.get("/api/health").headers
    assert h["x-content-type-options"] == "nosniff"
    assert h["x-frame-options"] == "DENY"
    assert h["cache-control"] == "no-store"
    assert "default-src 'none'" in h["content-security-policy"]
