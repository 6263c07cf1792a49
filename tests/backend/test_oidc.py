"""Sign-in through an OpenID Connect provider (authlib Starlette client; joserfc ID tokens)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from tests.backend.fake_idp import FakeIdP
from tests.conftest import ClientFactory
from tests.support import STRONG_PASSWORD, Services, User


@pytest.fixture
def idp() -> Iterator[FakeIdP]:
    with FakeIdP("mainplatform", "client-secret-for-tests") as provider:
        yield provider


@pytest.fixture
def client(make_client: ClientFactory, idp: FakeIdP) -> TestClient:
    return make_client(
        oidc_issuer=idp.url, oidc_client_id=idp.client_id, oidc_client_secret=idp.client_secret
    )


def sign_in(client: TestClient, *, tamper_state: bool = False) -> httpx.Response:
    start = client.get("/api/auth/oidc/login", follow_redirects=False)
    assert start.status_code == 302, start.text
    at_idp = httpx.get(start.headers["location"], follow_redirects=False)
    assert at_idp.status_code == 302
    back = urlsplit(at_idp.headers["location"])
    assert back.path == "/api/auth/oidc/callback"
    query = back.query
    if tamper_state:
        query = query.replace("state=", "state=x")
    return client.get(f"{back.path}?{query}", follow_redirects=False)


def access_token(client: TestClient) -> str:
    r = client.post("/api/auth/refresh", headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


def test_providers_endpoint(client: TestClient, make_client: ClientFactory) -> None:
    assert client.get("/api/auth/providers").json()["oidc"]["enabled"] is True
    plain = make_client()
    assert plain.get("/api/auth/providers").json()["oidc"]["enabled"] is False
    r = plain.get("/api/auth/oidc/login", follow_redirects=False)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "oidc_not_configured"


def test_new_user_signs_in(client: TestClient, idp: FakeIdP) -> None:
    idp.user = {"sub": "idp-1", "email": "Oidc@Example.org", "email_verified": True, "name": "Olga"}
    r = sign_in(client)
    assert r.status_code == 303
    assert r.headers["location"] == "/"
    assert "mp_refresh" in r.cookies
    me = client.get("/api/users/me", headers={"Authorization": f"Bearer {access_token(client)}"})
    assert me.json()["email"] == "Oidc@Example.org"
    assert me.json()["display_name"] == "Olga"
    assert me.json()["has_password"] is False
    token = access_token(client)
    r = client.post(
        "/api/users/me/password",
        json={"current_password": "anything at all", "new_password": "a new passphrase 2026"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 422
    assert "no password" in r.json()["error"]["fields"][0]["message"]
    # the same subject signs in as the same user, even if the address changed at the provider
    idp.user = {"sub": "idp-1", "email": "renamed@example.org", "email_verified": True}
    client.cookies.clear()
    assert sign_in(client).status_code == 303
    again = client.get("/api/users/me", headers={"Authorization": f"Bearer {access_token(client)}"})
    assert again.json()["id"] == me.json()["id"]


def test_verified_email_links_existing_account(client: TestClient, idp: FakeIdP) -> None:
    local = User(client, "linked@example.org")
    client.cookies.clear()
    idp.user = {"sub": "idp-2", "email": "LINKED@example.org", "email_verified": True}
    assert sign_in(client).status_code == 303
    me = client.get("/api/users/me", headers={"Authorization": f"Bearer {access_token(client)}"})
    assert me.json()["id"] == local.id
    # the password still works too
    r = client.post("/api/auth/login", json={"email": local.email, "password": STRONG_PASSWORD})
    assert r.status_code == 200


def test_unverified_email_is_refused(client: TestClient, idp: FakeIdP) -> None:
    User(client, "victim@example.org")
    client.cookies.clear()
    idp.user = {"sub": "attacker", "email": "victim@example.org", "email_verified": False}
    r = sign_in(client)
    assert r.status_code == 303
    assert parse_qs(urlsplit(r.headers["location"]).query) == {"error": ["oidc_email_not_verified"]}
    assert "mp_refresh" not in r.cookies


def test_tampered_state_is_refused(client: TestClient, idp: FakeIdP) -> None:
    idp.user = {"sub": "idp-3", "email": "s@example.org", "email_verified": True}
    r = sign_in(client, tamper_state=True)
    assert r.status_code == 303
    assert r.headers["location"] == "/sign-in?error=oidc_failed"
    assert "mp_refresh" not in r.cookies


def test_disabled_account_is_refused(client: TestClient, idp: FakeIdP, services: Services) -> None:
    import psycopg

    idp.user = {"sub": "idp-4", "email": "d@example.org", "email_verified": True}
    assert sign_in(client).status_code == 303
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute("UPDATE users SET disabled = true WHERE email = 'd@example.org'")
    client.cookies.clear()
    r = sign_in(client)
    assert r.headers["location"] == "/sign-in?error=account_disabled"


def test_callback_without_login_is_refused(client: TestClient) -> None:
    r = client.get("/api/auth/oidc/callback?code=x&state=y", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/sign-in?error=oidc_failed"


def test_providers_say_the_password_policy(make_client: ClientFactory) -> None:
    client = make_client(password_min_length=14)
    assert client.get("/api/auth/providers").json()["password"] == {
        "min_length": 14,
        "max_length": 256,
    }
