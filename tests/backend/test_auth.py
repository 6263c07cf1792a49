"""Registration, login, refresh rotation with reuse detection, logout, logout-all."""

from __future__ import annotations

import psycopg
import pytest
from starlette.testclient import TestClient

from tests.conftest import ClientFactory
from tests.support import STRONG_PASSWORD, Services, User


def register(client: TestClient, email: str, password: str = STRONG_PASSWORD) -> int:
    r = client.post("/api/auth/register", json={"email": email, "password": password})
    return r.status_code


def test_register_returns_user_without_secrets(client: TestClient) -> None:
    r = client.post(
        "/api/auth/register", json={"email": "  Bob@Example.org ", "password": STRONG_PASSWORD}
    )
    assert r.status_code == 201
    body = r.json()
    assert body["email"] == "Bob@Example.org"
    assert body["role"] == "user" and body["disabled"] is False
    assert set(body) == {
        "id",
        "email",
        "display_name",
        "role",
        "disabled",
        "created_at",
        "has_password",
        "email_verified",
    }
    assert "argon2" not in r.text and STRONG_PASSWORD not in r.text


def test_email_is_unique_case_insensitively(client: TestClient) -> None:
    assert register(client, "carol@example.org") == 201
    r = client.post(
        "/api/auth/register", json={"email": "CAROL@example.ORG", "password": STRONG_PASSWORD}
    )
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "email_taken"


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "at least 12"),
        ("password1234", "commonly used"),
        ("aaaaaaaaaaaaaa", "repeats"),
        ("abcdefghijklmnop", "sequence"),
        ("x" * 300, "at most 256"),
    ],
)
def test_password_policy_says_why(client: TestClient, password: str, reason: str) -> None:
    r = client.post("/api/auth/register", json={"email": "dan@example.org", "password": password})
    assert r.status_code == 422
    field = r.json()["error"]["fields"][0]
    assert field["field"] == "password"
    assert reason in field["message"]


def test_long_passphrases_and_unicode_are_allowed(client: TestClient) -> None:
    assert (
        register(
            client,
            "eve@example.org",
            "ü" * 3 + " a long passphrase of sixty-four characters or so, fine!!",
        )
        == 201
    )
    assert register(client, "fay@example.org", "z" * 10 + "y" * 10 + "x" * 44 + "w") == 201


def test_invalid_email_is_refused(client: TestClient) -> None:
    r = client.post(
        "/api/auth/register", json={"email": "not-an-email", "password": STRONG_PASSWORD}
    )
    assert r.status_code == 422
    assert r.json()["error"]["fields"][0]["field"] == "email"


def test_login_sets_strict_httponly_refresh_cookie(make_client: ClientFactory) -> None:
    client = make_client(cookie_secure=True)
    register(client, "gus@example.org")
    r = client.post(
        "/api/auth/login", json={"email": "GUS@example.org", "password": STRONG_PASSWORD}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 900
    assert "refresh_token" not in body or body["refresh_token"] is None
    cookie = r.headers["set-cookie"]
    for part in ("mp_refresh=", "HttpOnly", "Secure", "SameSite=strict", "Path=/api/auth"):
        assert part.lower() in cookie.lower()


def test_unknown_email_and_wrong_password_look_the_same(client: TestClient, user: User) -> None:
    a = client.post(
        "/api/auth/login", json={"email": "nobody@example.org", "password": STRONG_PASSWORD}
    )
    b = client.post(
        "/api/auth/login", json={"email": user.email, "password": "wrong password here"}
    )
    assert a.status_code == b.status_code == 401
    assert a.json() == b.json()


def test_refresh_rotates_and_old_token_is_used(client: TestClient, user: User) -> None:
    first = user.refresh_token
    r = client.post("/api/auth/refresh", json={"refresh_token": first})
    assert r.status_code == 200
    second = r.json()["refresh_token"]
    assert second and second != first
    assert r.json()["access_token"] != user.token
    # the new access token works
    me = client.get(
        "/api/users/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}
    )
    assert me.status_code == 200


def test_reuse_revokes_whole_family(client: TestClient, user: User) -> None:
    first = user.refresh_token
    second = client.post("/api/auth/refresh", json={"refresh_token": first}).json()
    third = client.post("/api/auth/refresh", json={"refresh_token": second["refresh_token"]}).json()
    # replay of an already-used token
    r = client.post("/api/auth/refresh", json={"refresh_token": first})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "refresh_token_reused"
    # the newest token of the family is dead too, and so is its access token
    r = client.post("/api/auth/refresh", json={"refresh_token": third["refresh_token"]})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "refresh_token_reused"
    me = client.get("/api/users/me", headers={"Authorization": f"Bearer {third['access_token']}"})
    assert me.status_code == 401


def test_reuse_leaves_other_sessions_alone(make_client: ClientFactory) -> None:
    client = make_client(refresh_reuse_grace=0)  # an immediate replay counts as reuse
    user = User(client, "alice@example.org")
    other = client.post("/api/auth/login", json={"email": user.email, "password": user.password})
    other_refresh = other.cookies["mp_refresh"]
    first = user.refresh_token
    client.post("/api/auth/refresh", json={"refresh_token": first})
    assert client.post("/api/auth/refresh", json={"refresh_token": first}).status_code == 401
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": other_refresh}).status_code == 200
    )


def test_refresh_with_cookie_needs_json_and_own_origin(client: TestClient, user: User) -> None:
    client.cookies.clear()
    client.cookies.set("mp_refresh", user.refresh_token, path="/api/auth")
    r = client.post("/api/auth/refresh", content=b"", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    r = client.post(
        "/api/auth/refresh",
        headers={"Content-Type": "application/json", "Origin": "https://evil.example"},
    )
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "origin_not_allowed"
    r = client.post(
        "/api/auth/refresh",
        headers={"Content-Type": "application/json", "Origin": "http://testserver"},
    )
    assert r.status_code == 200
    assert r.cookies["mp_refresh"] != user.refresh_token
    assert r.json().get("refresh_token") is None  # browsers get it only as a cookie


def test_refresh_garbage_and_missing_tokens(client: TestClient) -> None:
    for token in ("", "x", "A" * 43, "A" * 600):
        r = client.post("/api/auth/refresh", json={"refresh_token": token})
        assert r.status_code in (401, 422), (token, r.text)
    r = client.post("/api/auth/refresh", headers={"Content-Type": "application/json"})
    assert r.status_code == 401


def _expire(services: Services, column: str) -> None:
    table = "refresh_tokens" if column == "idle_expires_at" else "refresh_families"
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute(f"UPDATE {table} SET {column} = now() - interval '1 second'")


@pytest.mark.parametrize("column", ["idle_expires_at", "expires_at"])
def test_idle_and_absolute_expiry(
    client: TestClient, user: User, services: Services, column: str
) -> None:
    _expire(services, column)
    r = client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_refresh_token"


def test_logout_kills_access_token_and_family(client: TestClient, user: User) -> None:
    r = user.post("/api/auth/logout")
    assert r.status_code == 204
    assert user.get("/api/users/me").status_code == 401
    assert user.get("/api/notes").json()["error"]["code"] == "token_revoked"
    r = client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert r.status_code == 401


def test_logout_with_refresh_token_only(client: TestClient, user: User) -> None:
    client.cookies.clear()
    r = client.post("/api/auth/logout", json={"refresh_token": user.refresh_token})
    assert r.status_code == 204
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token}).status_code
        == 401
    )
    # the family's access token is also ended
    assert user.get("/api/users/me").status_code == 401


def test_logout_needs_some_credential(client: TestClient) -> None:
    client.cookies.clear()
    assert client.post("/api/auth/logout").status_code == 401


def test_logout_all_ends_every_session(client: TestClient, user: User) -> None:
    second = client.post("/api/auth/login", json={"email": user.email, "password": user.password})
    other_token = second.json()["access_token"]
    other_refresh = second.cookies["mp_refresh"]
    assert user.post("/api/auth/logout-all").status_code == 204
    assert user.get("/api/users/me").status_code == 401
    assert (
        client.get("/api/users/me", headers={"Authorization": f"Bearer {other_token}"}).status_code
        == 401
    )
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": other_refresh}).status_code == 401
    )
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token}).status_code
        == 401
    )
    # signing in again works straight away
    user.login()
    assert user.get("/api/users/me").status_code == 200


def test_password_change_ends_other_sessions_only(client: TestClient, user: User) -> None:
    other = client.post("/api/auth/login", json={"email": user.email, "password": user.password})
    other_token = other.json()["access_token"]
    other_refresh = other.cookies["mp_refresh"]
    new = "a completely new passphrase 2026"
    r = user.post(
        "/api/users/me/password", json={"current_password": user.password, "new_password": new}
    )
    assert r.status_code == 204, r.text
    assert user.get("/api/users/me").status_code == 200
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token}).status_code
        == 200
    )
    assert (
        client.get("/api/users/me", headers={"Authorization": f"Bearer {other_token}"}).status_code
        == 401
    )
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": other_refresh}).status_code == 401
    )
    old = client.post("/api/auth/login", json={"email": user.email, "password": user.password})
    assert old.status_code == 401
    assert (
        client.post("/api/auth/login", json={"email": user.email, "password": new}).status_code
        == 200
    )


def test_password_change_checks_current_and_policy(user: User) -> None:
    r = user.post(
        "/api/users/me/password",
        json={"current_password": "wrong one", "new_password": "another good passphrase"},
    )
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "current_password"
    r = user.post(
        "/api/users/me/password",
        json={"current_password": user.password, "new_password": "password1234"},
    )
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "new_password"


def test_rehash_on_login_when_parameters_change(
    client: TestClient, user: User, services: Services
) -> None:
    weak = "$argon2id$v=19$m=8192,t=1,p=1$"
    from argon2 import PasswordHasher as Argon

    old_hash = Argon(time_cost=1, memory_cost=8192, parallelism=1).hash(user.password)
    assert old_hash.startswith(weak)
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute("UPDATE users SET password_hash = %s WHERE id = %s", (old_hash, user.id))
    user.login()
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        row = conn.execute("SELECT password_hash FROM users WHERE id = %s", (user.id,)).fetchone()
    assert row is not None and row[0].startswith("$argon2id$v=19$m=19456,t=2,p=1$")
