"""Rate limits in Redis: 429 with Retry-After, per account, per client IP, per user."""

from __future__ import annotations

import ipaddress

from starlette.testclient import TestClient

from mainplatform.config import RateLimit
from tests.conftest import ClientFactory
from tests.support import STRONG_PASSWORD, User


def login(client: TestClient, email: str, ip: str | None = None) -> int:
    headers = {"X-Forwarded-For": ip} if ip else {}
    r = client.post(
        "/api/auth/login", json={"email": email, "password": "wrong password!!"}, headers=headers
    )
    if r.status_code == 429:
        assert int(r.headers["retry-after"]) >= 1
        assert r.json()["error"]["code"] == "rate_limited"
    return r.status_code


def test_login_per_account(make_client: ClientFactory) -> None:
    client = make_client(rate_limit_login_account=RateLimit(3, 60))
    codes = [login(client, "victim@example.org") for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    # another account from the same client is not affected by that account's limit
    assert login(client, "other@example.org") == 401
    # the limit is per account whatever the case of the address
    assert login(client, "VICTIM@example.org") == 429


def test_login_per_ip_behind_trusted_proxy(make_client: ClientFactory) -> None:
    client = make_client(
        rate_limit_login_ip=RateLimit(2, 60),
        trusted_proxies=(ipaddress.ip_network("127.0.0.0/8"),),
    )
    assert [login(client, f"a{i}@example.org", "203.0.113.7") for i in range(3)] == [401, 401, 429]
    # a different client behind the same proxy has its own budget
    assert login(client, "b@example.org", "203.0.113.8") == 401


def test_forwarded_for_from_untrusted_peer_is_ignored(make_client: ClientFactory) -> None:
    client = make_client(peer="198.51.100.1", rate_limit_login_ip=RateLimit(2, 60))
    codes = [login(client, f"c{i}@example.org", f"203.0.113.{i}") for i in range(3)]
    assert codes == [401, 401, 429]  # spoofed addresses did not buy a fresh budget


def test_register_per_ip(make_client: ClientFactory) -> None:
    client = make_client(rate_limit_register_ip=RateLimit(2, 3600))
    codes = [
        client.post(
            "/api/auth/register", json={"email": f"r{i}@example.org", "password": STRONG_PASSWORD}
        ).status_code
        for i in range(3)
    ]
    assert codes == [201, 201, 429]


def test_api_budget_per_user(make_client: ClientFactory) -> None:
    client = make_client(rate_limit_api=RateLimit(5, 60))
    alice = User(client, "alice@example.org")
    codes = [alice.get("/api/notes").status_code for _ in range(7)]
    assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
    r = alice.get("/api/notes")
    assert 1 <= int(r.headers["retry-after"]) <= 60


def test_budget_refills(make_client: ClientFactory) -> None:
    import time

    client = make_client(rate_limit_login_account=RateLimit(2, 1))
    assert [login(client, "v@example.org") for _ in range(3)] == [401, 401, 429]
    time.sleep(0.6)
    assert login(client, "v@example.org") == 401


def test_health_is_never_rate_limited(make_client: ClientFactory) -> None:
    client = make_client(rate_limit_api=RateLimit(1, 60))
    assert {client.get("/api/health").status_code for _ in range(5)} == {200}
