"""Hypothesis properties of the pure rules and of refresh-token rotation."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from mainplatform.config import RateLimit
from mainplatform.paging import NOTES, USERS
from mainplatform.security.client import client_ip
from mainplatform.security.passwords import normalize, policy_violation
from mainplatform.services.accounts import email_problem, normalize_email
from tests.conftest import ClientFactory
from tests.support import STRONG_PASSWORD, Services, User, wait_until
from tests.support.mail import Sink, smtp_sink


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


# -- single-use account tokens: any sequence of requests, at most one success per token --------

MAIL_STEPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("ask"), st.sampled_from(["reset", "verify"]), st.sampled_from(["a", "b"])
        ),
        st.tuples(st.just("use"), st.sampled_from(["reset", "verify"]), st.integers(0, 20)),
        st.tuples(st.just("change-password"), st.just(""), st.just(0)),
    ),
    min_size=1,
    max_size=10,
)


@pytest.fixture
def mailing_client(make_client: ClientFactory) -> Iterator[tuple[TestClient, Sink]]:
    """One app sending to one SMTP server, for all the examples of a property (an app per
    example would leave the earlier apps' delivery workers claiming the later rows)."""
    with smtp_sink() as sink:
        client = make_client(
            **sink.settings(public_url="https://app.example.test"),
            rate_limit_mail_address=RateLimit(1000, 60),
            rate_limit_mail_ip=RateLimit(1000, 60),
        )
        yield client, sink


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=MAIL_STEPS)
def test_no_token_is_ever_used_twice(
    mailing_client: tuple[TestClient, Sink],
    services: Services,
    steps: list[tuple[str, str, int | str]],
) -> None:
    """Reset and verification requests, uses of any token seen in a mail at either endpoint
    (so with the wrong purpose too), and password changes, in any order: each token
    succeeds at most once, and only at the endpoint of its own purpose."""
    client, sink = mailing_client
    # One app and one SMTP server for every example; the data starts empty.
    services.reset()
    with sink.lock:
        sink.received.clear()
    people = {"a": User(client, "a@example.org"), "b": User(client, "b@example.org")}

    def settled() -> bool:
        with psycopg.connect(services.database_url, autocommit=True) as conn:
            return conn.execute("SELECT count(*) FROM mail_outbox").fetchone() == (0,)

    def tokens() -> list[tuple[str, str]]:
        found = []
        for mail in list(sink.received):
            for purpose, path in (("reset", "/reset-password"), ("verify", "/verify-email")):
                if path in mail.text:
                    found.append((purpose, mail.link(path).split("#token=", 1)[1]))
        return found

    successes: dict[str, list[str]] = {}
    password = {"a": STRONG_PASSWORD}
    for n, (action, kind, arg) in enumerate(steps):
        wait_until(settled, what="the outbox delivered")
        if action == "ask":
            path = (
                "/api/auth/password/forgot" if kind == "reset" else "/api/auth/email/verify/request"
            )
            r = client.post(path, json={"email": people[str(arg)].email})
            assert r.status_code == 202, r.text
        elif action == "use":
            seen = tokens()
            if not seen:
                continue
            purpose, token = seen[int(arg) % len(seen)]
            if kind == "reset":
                fresh = f"new passphrase number {n} of many"
                r = client.post(
                    "/api/auth/password/reset", json={"token": token, "new_password": fresh}
                )
            else:
                r = client.post("/api/auth/email/verify", json={"token": token})
            assert r.status_code in (204, 400), r.text
            if r.status_code == 204:
                assert kind == purpose, "a token worked at the other purpose's endpoint"
                successes.setdefault(token, []).append(kind)
        else:
            a = people["a"]
            r = client.post("/api/auth/login", json={"email": a.email, "password": password["a"]})
            if r.status_code != 200:
                continue  # a reset changed the password meanwhile
            bearer = {"Authorization": f"Bearer {r.json()['access_token']}"}
            new = f"changed passphrase number {n} of many"
            r = client.post(
                "/api/users/me/password",
                json={"current_password": password["a"], "new_password": new},
                headers=bearer,
            )
            assert r.status_code == 204, r.text
            password["a"] = new
    event(f"tokens used: {len(successes)}")
    assert all(len(uses) == 1 for uses in successes.values()), successes
