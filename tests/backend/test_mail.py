"""Mail over real SMTP (aiosmtpd on loopback): the outbox and its delivery, e-mail
verification, password reset and the security notices, read from the mails received."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pytest
from starlette.testclient import TestClient

from mainplatform.config import ConfigError, RateLimit, Settings
from mainplatform.metrics import Metrics
from mainplatform.platform import build
from mainplatform.security.client import Client
from tests.backend.test_observability import samples
from tests.conftest import ClientFactory
from tests.support import STRONG_PASSWORD, Services, User, free_port, make_admin, wait_until
from tests.support.mail import Sink, smtp_server, smtp_sink

PUBLIC = "https://app.example.test"
NEW_PASSWORD = "a quieter horse grazes at dawn"
SENDER = "Main Platform <noreply@example.test>"


@pytest.fixture
def sink() -> Iterator[Sink]:
    with smtp_sink() as server:
        yield server


@pytest.fixture
def mailing(make_client: ClientFactory, sink: Sink) -> ClientFactory:
    """Clients whose backend sends to ``sink`` (overrides on top)."""

    def factory(**overrides: object) -> TestClient:
        options = sink.settings(
            public_url=PUBLIC,
            mail_from=SENDER,
            mail_reply_to="help@example.test",
            mail_retry_base=1,
        )
        return make_client(**{**options, **overrides})

    return factory


def mail_count(client: TestClient, kind: str, result: str) -> float:
    found = samples(client.get("/metrics").text, "mainplatform_mail_sent_total")
    return found.get((("kind", kind), ("result", result)), 0.0)


def token_of(link: str) -> str:
    assert "#token=" in link, link
    return link.split("#token=", 1)[1]


def outbox(services: Services) -> list[tuple[str, str, int, str | None]]:
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT kind, recipient, attempts, last_error FROM mail_outbox ORDER BY id"
        ).fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def forgot(client: TestClient, email: str, ip: str | None = None) -> tuple[int, object]:
    headers = {"X-Forwarded-For": ip} if ip else {}
    r = client.post("/api/auth/password/forgot", json={"email": email}, headers=headers)
    return r.status_code, r.json()


def reset(client: TestClient, token: str, password: str = NEW_PASSWORD) -> int:
    r = client.post("/api/auth/password/reset", json={"token": token, "new_password": password})
    return r.status_code


def verify(client: TestClient, token: str) -> int:
    return client.post("/api/auth/email/verify", json={"token": token}).status_code


# -- verification ------------------------------------------------------------------------


def test_sign_up_sends_a_verification_mail_with_text_and_html(
    mailing: ClientFactory, sink: Sink
) -> None:
    client = mailing()
    alice = User(client, "alice@example.org")
    assert alice.get("/api/users/me").json()["email_verified"] is False
    mail = sink.wait("alice@example.org", "Confirm your e-mail address")
    assert mail.message["From"] == SENDER
    assert mail.message["Reply-To"] == "help@example.test"
    assert mail.sender == "noreply@example.test"
    assert mail.message["Message-ID"].endswith("@example.test>")
    link = mail.link("/verify-email")
    assert link.startswith(f"{PUBLIC}/verify-email#token=")
    assert link in mail.html  # the HTML part carries the same link
    assert "24 hours" in mail.text
    token = token_of(link)
    assert verify(client, token) == 204
    assert alice.get("/api/users/me").json()["email_verified"] is True
    # Single use: the same link again, or one character changed, is refused with a reason.
    r = client.post("/api/auth/email/verify", json={"token": token})
    assert r.status_code == 400 and r.json()["error"]["code"] == "link_invalid"
    assert verify(client, token[:-1] + ("A" if token[-1] != "A" else "B")) == 400
    assert mail_count(client, "verify_email", "sent") == 1
    # Only a hash is stored.
    assert outbox_tokens_hold_no(client, token)


def outbox_tokens_hold_no(client: TestClient, token: str) -> bool:
    settings = client.app.state.platform.settings  # type: ignore[attr-defined]
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT encode(token_hash, 'hex'), email FROM account_tokens"
        ).fetchall()
        boxed = conn.execute("SELECT params::text FROM mail_outbox").fetchall()
    text = repr(rows) + repr(boxed)
    return bool(rows) and token not in text


def test_verification_required_blocks_password_sign_in_until_verified(
    mailing: ClientFactory, sink: Sink
) -> None:
    client = mailing(email_verification_required=True)
    r = client.post(
        "/api/auth/register", json={"email": "bob@example.org", "password": STRONG_PASSWORD}
    )
    assert r.status_code == 201
    login = {"email": "bob@example.org", "password": STRONG_PASSWORD}
    r = client.post("/api/auth/login", json=login)
    assert r.status_code == 403 and r.json()["error"]["code"] == "email_not_verified"
    # A wrong password still says "wrong password", not whether the address is verified.
    r = client.post("/api/auth/login", json={**login, "password": "not the password!!"})
    assert r.status_code == 401
    # Ask again: a second link; only the newest one works.
    first = token_of(sink.wait("bob@example.org", "Confirm").link("/verify-email"))
    r = client.post("/api/auth/email/verify/request", json={"email": "bob@example.org"})
    assert r.status_code == 202
    second = token_of(sink.wait("bob@example.org", "Confirm", count=2).link("/verify-email"))
    assert first != second
    assert verify(client, first) == 400
    assert verify(client, second) == 204
    assert client.post("/api/auth/login", json=login).status_code == 200
    # A verified address gets no more links.
    client.post("/api/auth/email/verify/request", json={"email": "bob@example.org"})
    wait_until(lambda: mail_count(client, "verify_email", "skipped") == 1, what="skipped")
    assert len(sink.to("bob@example.org")) == 2


def test_changing_the_address_verifies_the_new_one_and_tells_the_old_one(
    mailing: ClientFactory, sink: Sink
) -> None:
    client = mailing()
    alice = User(client, "alice@example.org")
    old_link = token_of(sink.wait("alice@example.org", "Confirm").link("/verify-email"))
    r = alice.patch(
        "/api/users/me",
        json={"email": "alice@new.example", "current_password": STRONG_PASSWORD},
        headers={"User-Agent": "TestBrowser/1.0"},
    )
    assert r.status_code == 200 and r.json()["email_verified"] is False
    notice = sink.wait("alice@example.org", "e-mail address was changed")
    assert "a***@new.example" in notice.text and "alice@new.example" not in notice.text
    assert "testclient" not in notice.text and "TestBrowser/1.0" in notice.text
    assert "127.0.0.1" in notice.text
    # The link sent to the old address proves nothing about the new one.
    assert verify(client, old_link) == 400
    new_link = token_of(sink.wait("alice@new.example", "Confirm").link("/verify-email"))
    assert verify(client, new_link) == 204
    assert alice.get("/api/users/me").json()["email_verified"] is True


def test_admins_see_whether_an_address_is_verified(
    mailing: ClientFactory, sink: Sink, services: Services
) -> None:
    client = mailing()
    admin = User(client, "admin@example.org")
    make_admin(services, admin)
    verify(client, token_of(sink.wait("admin@example.org", "Confirm").link("/verify-email")))
    User(client, "bob@example.org")
    items = admin.get("/api/admin/users").json()["items"]
    assert {u["email"]: u["email_verified"] for u in items} == {
        "admin@example.org": True,
        "bob@example.org": False,
    }


# -- password reset ------------------------------------------------------------------------


def test_forgot_password_answers_the_same_whether_or_not_the_account_exists(
    mailing: ClientFactory, sink: Sink
) -> None:
    client = mailing()
    User(client, "alice@example.org")
    known = forgot(client, "alice@example.org")
    unknown = forgot(client, "nobody@example.org")
    assert known == unknown
    assert known[0] == 202
    sink.wait("alice@example.org", "Reset your")
    wait_until(lambda: mail_count(client, "reset_password", "skipped") == 1, what="skip")
    assert sink.to("nobody@example.org") == []


def test_forgot_password_takes_the_same_time_either_way(mailing: ClientFactory) -> None:
    client = mailing(
        rate_limit_mail_address=RateLimit(1000, 60), rate_limit_mail_ip=RateLimit(1000, 60)
    )
    User(client, "alice@example.org")

    def median(email: str) -> float:
        times = []
        for _ in range(15):
            start = time.perf_counter()
            assert forgot(client, email)[0] == 202
            times.append(time.perf_counter() - start)
        return sorted(times)[len(times) // 2]

    known, unknown = median("alice@example.org"), median("nobody@example.org")
    # The same statements run for both; no Argon2, no lookup in the request.
    assert abs(known - unknown) < max(0.01, 0.5 * min(known, unknown)), (known, unknown)


def test_reset_sets_a_new_password_once_and_ends_every_session(
    mailing: ClientFactory, sink: Sink
) -> None:
    client = mailing()
    alice = User(client, "alice@example.org")
    other = mailing()
    laptop = User.__new__(User)
    laptop.client, laptop.email, laptop.password = other, alice.email, alice.password
    laptop.login()
    forgot(client, "alice@example.org")
    mail = sink.wait("alice@example.org", "Reset your")
    assert "30 minutes" in mail.text
    link = mail.link("/reset-password")
    assert link.startswith(f"{PUBLIC}/reset-password#token=")
    token = token_of(link)
    # The policy applies; a refused password leaves the link usable.
    r = client.post("/api/auth/password/reset", json={"token": token, "new_password": "short"})
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "new_password"
    assert reset(client, token) == 204
    # Every session ended: access tokens refused, refresh tokens too.
    assert alice.get("/api/users/me").status_code == 401
    assert laptop.get("/api/users/me").status_code == 401
    assert (
        other.post("/api/auth/refresh", json={"refresh_token": laptop.refresh_token}).status_code
        == 401
    )
    # The old password is gone, the new one works, the link is spent.
    login = {"email": "alice@example.org", "password": STRONG_PASSWORD}
    assert client.post("/api/auth/login", json=login).status_code == 401
    assert (
        client.post("/api/auth/login", json={**login, "password": NEW_PASSWORD}).status_code == 200
    )
    assert reset(client, token, "yet another fine passphrase") == 400
    # The reset proved the address; the owner is told the password changed.
    notice = sink.wait("alice@example.org", "password was changed")
    assert "If this was not you" in notice.text and f"{PUBLIC}/forgot-password" in notice.text
    me = client.post("/api/auth/login", json={**login, "password": NEW_PASSWORD}).json()
    r = client.get("/api/users/me", headers={"Authorization": f"Bearer {me['access_token']}"})
    assert r.json()["email_verified"] is True


def test_a_password_change_invalidates_reset_links(mailing: ClientFactory, sink: Sink) -> None:
    client = mailing()
    alice = User(client, "alice@example.org")
    forgot(client, "alice@example.org")
    token = token_of(sink.wait("alice@example.org", "Reset your").link("/reset-password"))
    r = alice.post(
        "/api/users/me/password",
        json={"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert r.status_code == 204
    assert reset(client, token, "yet another fine passphrase") == 400
    sink.wait("alice@example.org", "password was changed")


def test_expired_wrong_purpose_and_malformed_tokens_change_nothing(
    mailing: ClientFactory, sink: Sink, services: Services
) -> None:
    client = mailing()
    User(client, "alice@example.org")
    verify_token = token_of(sink.wait("alice@example.org", "Confirm").link("/verify-email"))
    forgot(client, "alice@example.org")
    reset_token = token_of(sink.wait("alice@example.org", "Reset your").link("/reset-password"))
    # Wrong purpose, each way.
    assert reset(client, verify_token) == 400
    assert verify(client, reset_token) == 400
    # Malformed bodies are 4xx, never 500.
    for body in ({"token": ""}, {"token": "x" * 129}, {"token": 5}, {}):
        assert client.post("/api/auth/email/verify", json=body).status_code == 422
    assert client.post(
        "/api/auth/password/reset", json={"token": "\x00abc", "new_password": NEW_PASSWORD}
    ).status_code in (400, 422)
    # Expired: the same token after its time.
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute("UPDATE account_tokens SET expires_at = now() - interval '1 second'")
    assert reset(client, reset_token) == 400
    assert verify(client, verify_token) == 400
    login = {"email": "alice@example.org", "password": STRONG_PASSWORD}
    assert client.post("/api/auth/login", json=login).status_code == 200


def test_an_account_without_a_password_is_told_how_it_signs_in(
    mailing: ClientFactory, sink: Sink, services: Services
) -> None:
    client = mailing(oidc_name="Example SSO")
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO users (email) VALUES ('sso@example.org')")
    assert forgot(client, "sso@example.org")[0] == 202
    mail = sink.wait("sso@example.org", "How you sign in")
    assert "Example SSO" in mail.text and "/reset-password" not in mail.text
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM account_tokens").fetchone() == (0,)


def test_reset_requests_are_rate_limited_per_address_and_per_ip(mailing: ClientFactory) -> None:
    import ipaddress

    client = mailing(
        rate_limit_mail_address=RateLimit(2, 3600),
        rate_limit_mail_ip=RateLimit(4, 3600),
        trusted_proxies=(ipaddress.ip_network("127.0.0.0/8"),),
    )
    codes = [forgot(client, "victim@example.org", "203.0.113.1")[0] for _ in range(3)]
    assert codes == [202, 202, 429]
    r = client.post("/api/auth/password/forgot", json={"email": "VICTIM@example.org"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    # Per IP: other addresses from one client run out too.
    codes = [forgot(client, f"u{i}@example.org", "203.0.113.2")[0] for i in range(5)]
    assert codes == [202, 202, 202, 202, 429]
    assert forgot(client, "fresh@example.org", "203.0.113.3")[0] == 202


# -- security notices --------------------------------------------------------------------


def test_refresh_token_reuse_ends_the_session_and_tells_the_owner(
    mailing: ClientFactory, sink: Sink
) -> None:
    client = mailing(refresh_reuse_grace=0)
    alice = User(client, "alice@example.org")
    old = alice.refresh_token
    assert client.post("/api/auth/refresh", json={"refresh_token": old}).status_code == 200
    r = client.post(
        "/api/auth/refresh", json={"refresh_token": old}, headers={"User-Agent": "Thief/2"}
    )
    assert r.status_code == 401 and r.json()["error"]["code"] == "refresh_token_reused"
    notice = sink.wait("alice@example.org", "ended for safety")
    assert "Thief/2" in notice.text and "reset your password" in notice.text


def test_a_sign_in_from_a_new_browser_is_notified_but_not_the_first(
    mailing: ClientFactory, sink: Sink
) -> None:
    client = mailing()
    User(client, "alice@example.org")  # registers and signs in: the first sign-in
    client.post("/api/auth/login", json={"email": "alice@example.org", "password": STRONG_PASSWORD})
    other = mailing()
    r = other.post(
        "/api/auth/login",
        json={"email": "alice@example.org", "password": STRONG_PASSWORD},
        headers={"User-Agent": "Elsewhere/3"},
    )
    assert r.status_code == 200
    notice = sink.wait("alice@example.org", "New sign-in")
    assert "Elsewhere/3" in notice.text
    assert len([m for m in sink.to("alice@example.org") if "New sign-in" in m.subject]) == 1


# -- delivery: outages, retries, bounds, TLS ------------------------------------------------


def test_an_smtp_outage_never_fails_a_request_and_mail_goes_out_when_it_is_back(
    make_client: ClientFactory, services: Services
) -> None:
    port = free_port()  # nothing listens here yet
    client = make_client(
        smtp_host="127.0.0.1", smtp_port=port, smtp_tls="NONE", public_url=PUBLIC, mail_retry_base=1
    )
    alice = User(client, "alice@example.org")
    assert forgot(client, "alice@example.org")[0] == 202
    wait_until(lambda: all(row[2] >= 1 and row[3] for row in outbox(services)), what="attempts")
    assert mail_count(client, "verify_email", "retried") >= 1
    assert alice.get("/api/users/me").status_code == 200
    from aiosmtpd.controller import Controller

    sink = Sink("127.0.0.1", port)
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        sink.wait("alice@example.org", "Confirm", timeout=20)
        sink.wait("alice@example.org", "Reset your", timeout=20)
        wait_until(lambda: outbox(services) == [], what="outbox empty")
    finally:
        controller.stop()


def test_a_temporary_refusal_is_retried_and_a_permanent_one_given_up(
    mailing: ClientFactory, sink: Sink, services: Services
) -> None:
    client = mailing()
    sink.refuse.append("451 4.3.0 Try again later")
    User(client, "alice@example.org")
    sink.wait("alice@example.org", "Confirm")
    assert mail_count(client, "verify_email", "retried") == 1
    assert mail_count(client, "verify_email", "sent") == 1
    sink.refuse.append("550 5.1.1 No such mailbox")
    forgot(client, "alice@example.org")
    wait_until(lambda: mail_count(client, "reset_password", "failed") == 1, what="given up")
    assert outbox(services) == []
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        # The token of the mail that was not sent is gone again.
        assert conn.execute(
            "SELECT count(*) FROM account_tokens WHERE purpose = 'reset_password'"
        ).fetchone() == (0,)


def test_the_outbox_is_bounded(make_client: ClientFactory, services: Services) -> None:
    client = make_client(
        smtp_host="127.0.0.1",
        smtp_port=free_port(),
        smtp_tls="NONE",
        public_url=PUBLIC,
        mail_outbox_max=10,
        mail_retry_base=3600,
        rate_limit_mail_address=RateLimit(1000, 60),
        rate_limit_mail_ip=RateLimit(1000, 60),
    )
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        for i in range(14):  # accounts, so that each mail is attempted (and kept for a retry)
            conn.execute(
                "INSERT INTO users (email, password_hash) VALUES (%s, 'x')", (f"u{i}@example.org",)
            )
    codes = {forgot(client, f"u{i}@example.org")[0] for i in range(14)}
    assert codes == {202}
    assert len(outbox(services)) == 10
    assert mail_count(client, "reset_password", "dropped") == 4


# aiosmtpd warns about AUTH without STARTTLS even on an implicit-TLS socket (tests.support.mail).
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize("mode", ["STARTTLS", "TLS"])
def test_tls_and_auth(make_client: ClientFactory, mode: str) -> None:
    with smtp_server(tls=mode, credentials=("mailer", "s3cret pass")) as (sink, cert):
        assert cert is not None
        client = make_client(
            **sink.settings(
                smtp_tls=mode,
                smtp_ca_file=str(cert),
                smtp_username="mailer",
                smtp_password="s3cret pass",
                public_url=PUBLIC,
            )
        )
        User(client, "alice@example.org")
        sink.wait("alice@example.org", "Confirm")
        assert sink.logins == ["mailer"]


def test_mail_is_off_without_smtp_host(client: TestClient, services: Services) -> None:
    User(client, "alice@example.org")
    assert forgot(client, "alice@example.org")[0] == 202
    assert outbox(services) == []
    assert mail_count(client, "reset_password", "disabled") == 1


def test_settings_that_cannot_work_are_refused() -> None:
    import secrets

    env = {"DATABASE_URL": "postgresql:///x", "REDIS_URL": "redis://127.0.0.1:1"}
    env["JWT_SECRET"] = secrets.token_urlsafe(48)
    with pytest.raises(ConfigError, match="PASSWORD_RESET_TTL"):
        Settings.from_env({**env, "PASSWORD_RESET_TTL": "3600"})
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        Settings.from_env({**env, "SMTP_HOST": "relay.example"})
    with pytest.raises(ConfigError, match="SMTP_HOST"):
        Settings.from_env({**env, "EMAIL_VERIFICATION_REQUIRED": "true"})
    with pytest.raises(ConfigError, match="SMTP_TLS"):
        Settings.from_env({**env, "SMTP_TLS": "maybe"})
    with pytest.raises(ConfigError, match="in clear"):
        Settings.from_env(
            {
                **env,
                "SMTP_HOST": "relay.example",
                "PUBLIC_URL": PUBLIC,
                "SMTP_TLS": "NONE",
                "SMTP_USERNAME": "u",
                "SMTP_PASSWORD": "p",
            }
        )
    ok = Settings.from_env(
        {**env, "SMTP_HOST": "relay.example", "PUBLIC_URL": PUBLIC, "SMTP_TLS": "tls"}
    )
    assert ok.smtp_tls == "TLS" and ok.mail_enabled


# -- single use under concurrency ----------------------------------------------------------------


def test_concurrent_uses_of_one_token_succeed_once(settings: Settings, sink: Sink) -> None:
    """Ten uses of one token at once, each on its own pool connection: exactly one wins."""

    async def race() -> list[bool]:
        s = replace(settings, **sink.settings(public_url=PUBLIC), db_pool_max=10)  # type: ignore[arg-type]
        platform = build(s, Metrics())
        await platform.db.open()
        try:
            user = await platform.accounts.register(
                "race@example.org", STRONG_PASSWORD, Client("127.0.0.1")
            )
            from mainplatform.services import account_tokens

            async with platform.db.transaction() as conn:
                token = await account_tokens.mint(conn, "verify_email", user.id, user.email, 600)

            async def attempt() -> bool:
                try:
                    await platform.accounts.verify_email(token)
                except Exception:
                    return False
                return True

            async def use(token: str) -> bool:
                async with platform.db.transaction() as conn:
                    return await account_tokens.use(conn, "reset_password", token) is not None

            flows = await asyncio.gather(*(attempt() for _ in range(10)))
            # The statement alone, without the flows' other guards: one use wins.
            async with platform.db.transaction() as conn:
                reset = await account_tokens.mint(conn, "reset_password", user.id, user.email, 600)
            statements = await asyncio.gather(*(use(reset) for _ in range(10)))
            assert statements.count(True) == 1, statements
            return flows
        finally:
            await platform.db.close()
            await platform.cache.client.aclose()

    results = asyncio.run(race())
    assert results.count(True) == 1


def test_a_row_that_cannot_be_prepared_is_dropped_and_delivery_goes_on(
    mailing: ClientFactory, sink: Sink, services: Services
) -> None:
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO mail_outbox (kind, recipient) VALUES ('bogus', 'x@example.org')")
    client = mailing(mail_max_attempts=1)
    wait_until(lambda: outbox(services) == [], what="the bad row dropped")
    User(client, "alice@example.org")
    sink.wait("alice@example.org", "Confirm")
    assert sink.to("x@example.org") == []
