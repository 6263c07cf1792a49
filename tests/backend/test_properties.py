"""Hypothesis properties of the pure rules and of refresh-token rotation."""

from __future__ import annotations

import ipaddress

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from mainplatform.config import RateLimit
from mainplatform.paging import NOTES, USERS
from mainplatform.security.client import client_ip
from mainplatform.security.passwords import normalize, policy_violation
from mainplatform.services.accounts import email_problem, normalize_email
from tests.support import Services, User


@given(st.text())
def test_email_normalisation_is_idempotent(email: str) -> None:
    once = normalize_email(email)
    assert normalize_email(once) == once
    assert once == once.strip()


@given(st.emails())
def test_generated_emails_are_accepted_when_short_enough(email: str) -> None:
    if len(email) <= 254 and len(email.split("@")[0]) <= 64 and "." in email.split("@")[1]:
        assert email_problem(normalize_email(email)) is None


@given(st.text(max_size=300))
def test_password_policy_is_total_and_normalisation_idempotent(password: str) -> None:
    assert normalize(normalize(password)) == normalize(password)
    reason = policy_violation(password, min_length=12)
    assert reason is None or isinstance(reason, str)
    if len(normalize(password)) < 12:
        assert reason is not None


@given(st.integers(min_value=1, max_value=2**63 - 1))
def test_cursor_round_trip(n: int) -> None:
    assert NOTES.decode(NOTES.encode(n)) == n
    assert USERS.decode(USERS.encode(n)) == n


@given(st.text(max_size=100))
def test_rate_limit_parser_never_crashes_unexpectedly(text: str) -> None:
    from mainplatform.config import ConfigError

    try:
        limit = RateLimit.parse("X", text)
    except ConfigError:
        return
    assert limit.limit >= 1 and limit.period > 0


ips = st.ip_addresses().map(str)


@given(peer=ips, chain=st.lists(ips, max_size=5))
def test_untrusted_peer_is_always_the_client(peer: str, chain: list[str]) -> None:
    assert client_ip(peer, ", ".join(chain), []) == str(ipaddress.ip_address(peer))


@given(
    client=st.ip_addresses(v=4).filter(lambda a: not a.is_loopback).map(str),
    proxies=st.integers(0, 3),
)
def test_client_behind_trusted_proxies(client: str, proxies: int) -> None:
    trusted = [ipaddress.ip_network("127.0.0.0/8")]
    chain = [client] + ["127.0.0.1"] * proxies
    assert client_ip("127.0.0.2", ", ".join(chain), trusted) == client


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(length=st.integers(1, 6), replay=st.data())
def test_replay_anywhere_in_a_chain_revokes_that_family_and_nothing_else(
    client: TestClient, services: Services, length: int, replay: st.DataObject
) -> None:
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE users, refresh_families, refresh_tokens, notes RESTART IDENTITY CASCADE"
        )
    user = User(client, "chain@example.org")
    bystander = client.post(
        "/api/auth/login", json={"email": user.email, "password": user.password}
    )
    bystander_refresh = bystander.cookies["mp_refresh"]
    chain = [user.refresh_token]
    for _ in range(length):
        r = client.post("/api/auth/refresh", json={"refresh_token": chain[-1]})
        assert r.status_code == 200
        chain.append(r.json()["refresh_token"])
    used = replay.draw(st.integers(0, length - 1), label="replayed index")
    r = client.post("/api/auth/refresh", json={"refresh_token": chain[used]})
    if used == length - 1:
        # the token rotated last, its successor still unused: a retry within the grace
        # window, answered with that same successor; the chain is intact
        assert r.status_code == 200 and r.json()["refresh_token"] == chain[-1], r.text
        return
    assert r.json()["error"]["code"] == "refresh_token_reused"
    for token in chain:  # every token of the family is dead now, the newest included
        assert client.post("/api/auth/refresh", json={"refresh_token": token}).status_code == 401
    # the other session is untouched
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": bystander_refresh}).status_code
        == 200
    )
