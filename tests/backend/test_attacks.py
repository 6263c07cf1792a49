"""Findings of the attack and fault run (issue 9): each input here once gave a 500, locked an
account's owner out, or signed a user out; each test failed before its fix."""

from __future__ import annotations

import ipaddress
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from mainplatform.config import RateLimit
from tests.conftest import ClientFactory
from tests.support import STRONG_PASSWORD, Services, User, make_admin

JSON = {"Content-Type": "application/json"}

# -- 1. text PostgreSQL cannot store ------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "payload", "field", "auth"),
    [
        ("POST", "/api/notes", {"title": "a\u0000b"}, "title", True),
        ("POST", "/api/notes", {"title": "ok", "body": "\u0000"}, "body", True),
        ("PATCH", "/api/notes/{note}", {"body": "x\u0000"}, "body", True),
        ("PATCH", "/api/users/me", {"display_name": "\u0000"}, "display_name", True),
        ("POST", "/api/auth/login", {"email": "a\u0000@b.co", "password": "x"}, "email", False),
        (
            "POST",
            "/api/auth/register",
            {"email": "a\u0000@b.co", "password": STRONG_PASSWORD},
            "email",
            False,
        ),
    ],
)
def test_nul_character_is_refused_with_the_field_named(
    client: TestClient,
    user: User,
    method: str,
    path: str,
    payload: dict[str, str],
    field: str,
    auth: bool,
) -> None:
    note = user.post("/api/notes", json={"title": "keep", "body": "intact"}).json()
    headers = user.headers if auth else {}
    r = client.request(method, path.format(note=note["id"]), json=payload, headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["fields"][0]["field"] == field
    assert "NUL" in r.json()["error"]["fields"][0]["message"]
    assert user.get(f"/api/notes/{note['id']}").json() == note


def test_escaped_lone_surrogate_is_a_client_error(client: TestClient, user: User) -> None:
    for raw in (b'{"title": "\\ud800"}', b'{"title": "ok", "body": "\\udc00x"}'):
        r = client.post("/api/notes", content=raw, headers={**user.headers, **JSON})
        assert 400 <= r.status_code < 500, r.text


# -- 2. invalid UTF-8 inside a JSON string ------------------------------------------------

BAD_UTF8 = [
    b'{"email": "\xff@example.org", "password": "x"}',
    b'{"email": "a@example.org", "password": "\xc3"}',
    b'{"title": "\xed\xa0\x80"}',  # an encoded surrogate: not UTF-8
    b'{"title": "caf\xe9"}',  # Latin-1
]
JSON_ROUTES = [
    ("POST", "/api/auth/register", False),
    ("POST", "/api/auth/login", False),
    ("POST", "/api/auth/refresh", False),
    ("POST", "/api/notes", True),
    ("PATCH", "/api/notes/1", True),
    ("PATCH", "/api/users/me", True),
    ("POST", "/api/users/me/password", True),
    ("PATCH", "/api/admin/users/1", True),
]


@pytest.mark.parametrize(("method", "path", "auth"), JSON_ROUTES)
def test_invalid_utf8_inside_a_string_is_400_on_every_json_route(
    client: TestClient, services: Services, method: str, path: str, auth: bool
) -> None:
    """The mapping is ours (the body's encoding is checked before msgspec decodes it), so it
    is the same with msgspec 0.22, where bad bytes inside a string raise UnicodeDecodeError,
    and 0.23, where they raise DecodeError."""
    admin = User(client, "admin@example.org")
    make_admin(services, admin)
    admin.post("/api/notes", json={"title": "n"})
    headers = {**(admin.headers if auth else {}), **JSON}
    for raw in BAD_UTF8:
        r = client.request(method, path, content=raw, headers=headers)
        assert r.status_code == 400, (raw, r.text)
        assert r.json()["error"]["code"] == "invalid_encoding"


# -- 3. paging parameters: ASCII digits only ----------------------------------------------


@pytest.mark.parametrize(
    "limit", ["\u00b3", "\u0663", "\uff15", "0" * 5000 + "1", "+5", " 5", "5\n", "1_0", ""]
)
@pytest.mark.parametrize("path", ["/api/notes", "/api/admin/users"])
def test_limit_takes_ascii_digits_only(
    client: TestClient, services: Services, path: str, limit: str
) -> None:
    admin = User(client, "admin@example.org")
    make_admin(services, admin)
    r = admin.get(path, params={"limit": limit})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_limit"


def test_oversized_numbers_elsewhere_are_client_errors(client: TestClient, user: User) -> None:
    huge = "9" * 5000  # more digits than int() converts from text
    assert user.get(f"/api/notes/{huge}").status_code in (400, 404)
    r = client.post("/api/auth/login", content=b"{}", headers={**JSON, "Content-Length": huge})
    assert r.status_code == 413


# -- 4. a token that outlived its account ---------------------------------------------------


def test_token_of_a_deleted_account_is_401_everywhere(
    client: TestClient, user: User, services: Services
) -> None:
    note = user.post("/api/notes", json={"title": "t"}).json()
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM users WHERE id = %s", (user.id,))
    r = user.post("/api/notes", json={"title": "after"})
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "account_gone"
    assert user.get("/api/users/me").status_code == 401
    assert user.patch("/api/users/me", json={"display_name": "x"}).status_code == 401
    r = user.post(
        "/api/users/me/password",
        json={"current_password": STRONG_PASSWORD, "new_password": STRONG_PASSWORD + "!"},
    )
    assert r.status_code == 401
    for method, path in (
        ("GET", "/api/notes"),
        ("GET", f"/api/notes/{note['id']}"),
        ("DELETE", f"/api/notes/{note['id']}"),
        ("POST", "/api/auth/logout-all"),
        ("GET", "/api/admin/users"),
    ):
        assert user.request(method, path).status_code < 500, (method, path)


# -- 5. a client that leaves while its body is read -----------------------------------------


def test_client_disconnect_is_499_not_a_server_error(
    client: TestClient, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    app: Any = client.app
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/notes",
        "raw_path": b"/api/notes",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", b"1000"),
            (b"authorization", f"Bearer {user.token}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"title": "par', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    assert client.portal is not None
    client.portal.call(app, scope, receive, send)
    assert sent == []  # nothing can reach a client that left
    assert "unhandled error" not in caplog.text
    rendered = client.get("/metrics").text
    notes = [
        line
        for line in rendered.splitlines()
        if line.startswith("mainplatform_http_requests_total") and 'route="/api/notes"' in line
    ]
    assert any('status="499"' in line and 'method="POST"' in line for line in notes), notes
    assert not any('status="500"' in line for line in notes), notes


# -- 6. guessing an account's password must not lock its owner out -------------------------


def test_guessing_does_not_lock_the_owner_out_of_a_known_device(
    make_client: ClientFactory,
) -> None:
    limits: dict[str, Any] = {
        "rate_limit_login_account": RateLimit(10, 300),
        "rate_limit_login_device": RateLimit(10, 300),
        "rate_limit_login_ip": RateLimit(30, 60),
        "trusted_proxies": (ipaddress.ip_network("127.0.0.0/8"),),
    }
    owner_browser = make_client(**limits)
    owner = User(owner_browser, "owner@example.org")  # signs in once: the device is known
    assert owner_browser.cookies.get("mp_device")
    attacker = make_client(**limits)
    credentials = {"email": "owner@example.org", "password": "wrong password guess"}
    codes = [
        attacker.post(
            "/api/auth/login", json=credentials, headers={"X-Forwarded-For": f"203.0.113.{i}"}
        ).status_code
        for i in range(40)
    ]
    # guessing stays limited: the budget of unknown clients (10, the owner's first sign-in
    # took one) runs out, then 429 from every address
    assert codes[:9] == [401] * 9 and set(codes[9:]) == {429}
    # the owner, from the browser they used before, still signs in during the attack
    for _ in range(5):
        owner.login()
    # a client without the device cookie shares the exhausted budget of unknown clients
    newcomer = make_client(**limits)
    r = newcomer.post("/api/auth/login", json={"email": owner.email, "password": owner.password})
    assert r.status_code == 429
    # the owner's device has its own budget (10: its five sign-ins above took five), which
    # guessing did not touch; it is limited too
    wrong = {"email": owner.email, "password": "typo"}
    mistakes = [owner_browser.post("/api/auth/login", json=wrong).status_code for _ in range(7)]
    assert mistakes == [401] * 5 + [429, 429]


def test_device_cookie_is_bound_to_its_account_and_unforgeable(
    make_client: ClientFactory,
) -> None:
    limits: dict[str, Any] = {"rate_limit_login_account": RateLimit(2, 300)}
    browser = make_client(**limits)
    User(browser, "mallory@example.org")
    cookie = browser.cookies["mp_device"]
    victim_client = make_client(**limits)
    User(victim_client, "victim@example.org")
    wrong = {"email": "victim@example.org", "password": "guess"}
    for forged in (cookie, cookie.split(".")[0] + ".AAAA", "x" * 2000, "."):
        attacker = make_client(**limits)
        attacker.cookies.set("mp_device", forged, path="/api/auth/login")
        codes = [attacker.post("/api/auth/login", json=wrong).status_code for _ in range(3)]
        # Mallory's own cookie buys no budget for the victim's account, nor does a forgery:
        # all share the victim's account budget for unknown clients.
        assert codes[-1] == 429, (forged[:20], codes)


def test_device_cookie_attributes(client: TestClient) -> None:
    User(client, "d@example.org")
    r = client.post("/api/auth/login", json={"email": "d@example.org", "password": STRONG_PASSWORD})
    # already known: no new cookie is handed out
    assert "mp_device" not in r.headers.get("set-cookie", "")
    client.cookies.clear()  # a browser that has not signed in to this account before
    fresh = client.post(
        "/api/auth/login", json={"email": "d@example.org", "password": STRONG_PASSWORD}
    )
    header = fresh.headers["set-cookie"]
    assert "mp_device=" in header
    for attribute in ("HttpOnly", "Path=/api/auth/login", "SameSite=strict", "Max-Age="):
        assert attribute.lower() in header.lower(), header


# -- 7. a refresh whose response was lost, or parallel refreshes of one token --------------


def test_refresh_retry_within_grace_returns_the_same_successor(
    client: TestClient, user: User
) -> None:
    first = user.refresh_token
    a = client.post("/api/auth/refresh", json={"refresh_token": first})
    b = client.post("/api/auth/refresh", json={"refresh_token": first})  # the response was lost
    assert a.status_code == b.status_code == 200, b.text
    successor = a.json()["refresh_token"]
    assert b.json()["refresh_token"] == successor != first
    # the session survived: the successor rotates, and both access tokens work
    for r in (a, b):
        me = client.get(
            "/api/users/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}
        )
        assert me.status_code == 200
    c = client.post("/api/auth/refresh", json={"refresh_token": successor})
    assert c.status_code == 200
    # once the successor was used, the first token is an old one: reuse, family revoked
    r = client.post("/api/auth/refresh", json={"refresh_token": first})
    assert r.status_code == 401 and r.json()["error"]["code"] == "refresh_token_reused"
    r = client.post("/api/auth/refresh", json={"refresh_token": c.json()["refresh_token"]})
    assert r.status_code == 401


def test_twenty_parallel_refreshes_share_one_successor(
    backend_url: str, services: Services
) -> None:
    import asyncio

    import httpx2 as httpx

    async def run() -> tuple[list[httpx.Response], httpx.Response]:
        async with httpx.AsyncClient(base_url=backend_url, timeout=10) as c:
            creds = {"email": "parallel@example.org", "password": STRONG_PASSWORD}
            assert (await c.post("/api/auth/register", json=creds)).status_code == 201
            login = await c.post("/api/auth/login", json=creds)
            token = login.cookies["mp_refresh"]
            c.cookies.clear()
            replies = await asyncio.gather(
                *(c.post("/api/auth/refresh", json={"refresh_token": token}) for _ in range(20))
            )
            successor = replies[0].json()["refresh_token"]
            after = await c.post("/api/auth/refresh", json={"refresh_token": successor})
            return list(replies), after

    services.reset()
    replies, after = asyncio.run(run())
    assert [r.status_code for r in replies] == [200] * 20, [r.text for r in replies][:3]
    assert len({r.json()["refresh_token"] for r in replies}) == 1
    assert after.status_code == 200, after.text  # the session survived


def test_replay_after_the_grace_window_still_revokes(make_client: ClientFactory) -> None:
    import time

    client = make_client(refresh_reuse_grace=1)
    user = User(client, "late@example.org")
    first = user.refresh_token
    successor = client.post("/api/auth/refresh", json={"refresh_token": first}).json()
    time.sleep(1.3)
    r = client.post("/api/auth/refresh", json={"refresh_token": first})
    assert r.status_code == 401 and r.json()["error"]["code"] == "refresh_token_reused"
    r = client.post("/api/auth/refresh", json={"refresh_token": successor["refresh_token"]})
    assert r.status_code == 401
    me = client.get(
        "/api/users/me", headers={"Authorization": f"Bearer {successor['access_token']}"}
    )
    assert me.status_code == 401


def test_no_grace_when_it_is_switched_off(make_client: ClientFactory) -> None:
    client = make_client(refresh_reuse_grace=0)
    user = User(client, "strict@example.org")
    client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    r = client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert r.status_code == 401 and r.json()["error"]["code"] == "refresh_token_reused"
