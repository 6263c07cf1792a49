"""Mail: a bounded outbox in PostgreSQL and the delivery worker of each process.

``Mail.enqueue`` writes a row in the caller's transaction (the mail exists if and only if
the event it tells about was committed); a request never waits for SMTP. Each worker
process runs ``Mail.run``: it claims due rows with ``FOR UPDATE SKIP LOCKED`` (so workers
never send one row twice at once), mints the link's token if the mail has one, sends it
through the relay (``smtplib`` in a thread) and deletes the row. A failed attempt is
retried with exponential back-off up to ``MAIL_MAX_ATTEMPTS``; a permanent refusal (5xx)
is given up at once. Every outcome is counted in ``mainplatform_mail_sent_total``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import smtplib
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any, cast, get_args

import anyio
from psycopg import AsyncConnection
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from mainplatform.config import Settings
from mainplatform.db import Database, typed
from mainplatform.errors import APIError
from mainplatform.metrics import MailKind, Metrics
from mainplatform.services import account_tokens
from mainplatform.services.messages import Message, compose

log = logging.getLogger("mainplatform.mail")

POLL_INTERVAL = 1.0  # seconds between looks at the outbox when nothing woke the worker
BATCH = 10  # rows claimed at once
MAX_BACKOFF = 6 * 3600  # seconds: retries never wait longer than this
STATS_INTERVAL = 10.0  # seconds between counts of the pending rows (the gauge)
PURGE_INTERVAL = 600.0  # seconds between deletions of expired account tokens
SEND_THREADS = 2  # SMTP conversations at once per worker process


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    kind: str
    recipient: str
    user_id: int | None
    params: dict[str, Any]
    created_at: datetime
    attempts: int


@dataclass(frozen=True, slots=True)
class Prepared:
    kind: MailKind
    recipient: str
    message: Message
    token: str | None = None  # minted for this mail; forgotten again if it is not sent


CLAIM_SQL = (
    "UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = now() + %s"
    " WHERE id IN (SELECT id FROM mail_outbox WHERE next_attempt_at <= now()"
    " ORDER BY next_attempt_at, id LIMIT %s FOR UPDATE SKIP LOCKED)"
    " RETURNING id, kind, recipient, user_id, params, created_at, attempts"
)


def permanent(exc: BaseException) -> bool:
    """A refusal that retrying will not change (a 5xx reply, an unusable address)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(500 <= code < 600 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 500 <= exc.smtp_code < 600
    return isinstance(exc, ValueError)


class Mail:
    def __init__(self, settings: Settings, db: Database, metrics: Metrics) -> None:
        self.settings = settings
        self.db = db
        self.metrics = metrics
        self._wake = asyncio.Event()
        self._limiter = anyio.CapacityLimiter(SEND_THREADS)
        base = settings.public_url or "http://localhost"
        self.base = base.rstrip("/")
        # An attempt's claim lasts longer than any SMTP conversation can: a worker that
        # dies mid-send leaves the row to be retried after it.
        self.lease = timedelta(seconds=max(60, 6 * settings.smtp_timeout))

    # -- queueing ------------------------------------------------------------------------

    async def enqueue(
        self,
        conn: AsyncConnection[DictRow],
        kind: MailKind,
        recipient: str,
        *,
        user_id: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> bool:
        """Queue a mail in the caller's transaction; False when mail is off or the outbox
        is full (counted; the caller's request goes on)."""
        if not self.settings.mail_enabled:
            self.metrics.mail(kind, "disabled")
            return False
        cur = await conn.execute(
            "INSERT INTO mail_outbox (kind, recipient, user_id, params)"
            " SELECT %s, %s, %s, %s"
            " WHERE (SELECT count(*) FROM (SELECT 1 FROM mail_outbox LIMIT %s) AS q) < %s"
            " RETURNING id",
            (
                kind,
                recipient,
                user_id,
                Jsonb(params or {}),
                self.settings.mail_outbox_max,
                self.settings.mail_outbox_max,
            ),
        )
        if await cur.fetchone() is None:
            self.metrics.mail(kind, "dropped")
            log.warning(
                "mail outbox full (%d); a %s mail was dropped", self.settings.mail_outbox_max, kind
            )
            return False
        self._wake.set()
        return True

    # -- delivery ------------------------------------------------------------------------

    async def run(self) -> None:
        """Deliver until cancelled (one task per worker process)."""
        last_stats = last_purge = 0.0
        while True:
            delivered = 0
            try:
                now = time.monotonic()
                if now - last_stats > STATS_INTERVAL:
                    last_stats = now
                    await self._count_pending()
                if now - last_purge > PURGE_INTERVAL:
                    last_purge = now
                    async with self.db.connection() as conn:
                        await account_tokens.purge(conn)
                delivered = await self.deliver_due()
            except APIError as exc:  # the database is down: the rows wait for it
                log.warning("mail delivery paused: %s", exc.message)
            except Exception:
                log.exception("mail delivery failed")
            if delivered:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_INTERVAL)
            self._wake.clear()

    async def _count_pending(self) -> None:
        async with self.db.connection() as conn:
            cur = await conn.execute("SELECT count(*) AS n FROM mail_outbox")
            row = await cur.fetchone()
        self.metrics.mail_outbox.set(row["n"] if row else 0)

    async def deliver_due(self) -> int:
        """Claim and deliver the rows that are due; how many were claimed."""
        async with self.db.connection() as conn:
            cur = typed(conn, OutboxRow)
            await cur.execute(CLAIM_SQL, (self.lease, BATCH))
            rows = await cur.fetchall()
        for row in rows:
            try:
                await self._deliver(row)
            except APIError:
                raise  # the database is down: this row waits out its lease
            except Exception:
                # A row that cannot be prepared (a bug, a kind this version does not know):
                # retried after its lease like a failed send, dropped once its attempts are up.
                log.exception("mail %d could not be prepared", row.id)
                if row.attempts >= self.settings.mail_max_attempts:
                    await self._done(row)
                    log.error(
                        "mail %d (%s) dropped after %d attempts", row.id, row.kind, row.attempts
                    )
        return len(rows)

    async def _deliver(self, row: OutboxRow) -> None:
        kind = self._kind(row.kind)
        prepared = await self._prepare(row, kind)
        if prepared is None:
            await self._done(row)
            self.metrics.mail(kind, "skipped")
            return
        try:
            await anyio.to_thread.run_sync(
                self._send, prepared.recipient, prepared.message, limiter=self._limiter
            )
        except (smtplib.SMTPException, OSError, ValueError) as exc:
            await self._failed(row, prepared, exc)
            return
        await self._done(row)
        self.metrics.mail(prepared.kind, "sent")
        log.info("mail sent", extra={"kind": prepared.kind, "user_id": row.user_id})

    async def _failed(self, row: OutboxRow, prepared: Prepared, exc: BaseException) -> None:
        error = f"{type(exc).__name__}: {exc}"[:500]
        async with self.db.transaction() as conn:
            if prepared.token is not None:
                await account_tokens.delete(conn, prepared.token)
            if permanent(exc) or row.attempts >= self.settings.mail_max_attempts:
                await conn.execute("DELETE FROM mail_outbox WHERE id = %s", (row.id,))
                self.metrics.mail(prepared.kind, "failed")
                log.error(
                    "mail given up after %d attempts: %s",
                    row.attempts,
                    error,
                    extra={"kind": prepared.kind, "user_id": row.user_id},
                )
                return
            wait = min(MAX_BACKOFF, self.settings.mail_retry_base * 2 ** (row.attempts - 1))
            await conn.execute(
                "UPDATE mail_outbox SET next_attempt_at = now() + %s, last_error = %s"
                " WHERE id = %s",
                (timedelta(seconds=wait), error, row.id),
            )
        self.metrics.mail(prepared.kind, "retried")
        log.warning(
            "mail attempt %d failed, next in %d s: %s",
            row.attempts,
            wait,
            error,
            extra={"kind": prepared.kind, "user_id": row.user_id},
        )

    async def _done(self, row: OutboxRow) -> None:
        async with self.db.connection() as conn:
            await conn.execute("DELETE FROM mail_outbox WHERE id = %s", (row.id,))

    @staticmethod
    def _kind(text: str) -> MailKind:
        if text not in get_args(MailKind):
            raise ValueError(f"unknown mail kind {text!r}")
        return cast(MailKind, text)

    async def _prepare(self, row: OutboxRow, kind: MailKind) -> Prepared | None:
        """The mail to send now, or None when there is nothing to send any more."""
        params = row.params if isinstance(row.params, dict) else json.loads(str(row.params))
        s = self.settings
        if kind == "reset_password":
            async with self.db.transaction() as conn:
                cur = await conn.execute(
                    "SELECT id, email, password_hash IS NOT NULL AS has_password, disabled"
                    " FROM users WHERE lower(email) = lower(%s)",
                    (row.recipient,),
                )
                user = await cur.fetchone()
                if user is None or user["disabled"]:
                    return None
                if not user["has_password"]:
                    params = {**params, "provider": s.oidc_name}
                    message = compose("reset_no_password", params, row.created_at, self.base, None)
                    return Prepared("reset_no_password", user["email"], message)
                # Only the newest reset link works.
                await account_tokens.revoke(conn, user["id"], "reset_password")
                token = await account_tokens.mint(
                    conn, "reset_password", user["id"], user["email"], s.password_reset_ttl
                )
            link = f"{self.base}/reset-password#token={token}"
            params = {**params, "ttl": s.password_reset_ttl}
            message = compose(kind, params, row.created_at, self.base, link)
            return Prepared(kind, user["email"], message, token)
        if kind == "verify_email":
            async with self.db.transaction() as conn:
                cur = await conn.execute(
                    "SELECT id, email FROM users WHERE lower(email) = lower(%s)"
                    " AND (%s::bigint IS NULL OR id = %s::bigint)"
                    " AND email_verified_at IS NULL AND NOT disabled",
                    (row.recipient, row.user_id, row.user_id),
                )
                user = await cur.fetchone()
                if user is None:
                    return None
                await account_tokens.revoke(conn, user["id"], "verify_email")
                token = await account_tokens.mint(
                    conn, "verify_email", user["id"], user["email"], s.email_verify_ttl
                )
            link = f"{self.base}/verify-email#token={token}"
            params = {**params, "ttl": s.email_verify_ttl}
            message = compose(kind, params, row.created_at, self.base, link)
            return Prepared(kind, user["email"], message, token)
        return Prepared(kind, row.recipient, compose(kind, params, row.created_at, self.base, None))

    def _send(self, recipient: str, message: Message) -> None:
        """One SMTP conversation (in a thread): connect, TLS, AUTH, send."""
        s = self.settings
        assert s.smtp_host is not None
        mail = EmailMessage()
        mail["From"] = s.mail_from
        mail["To"] = recipient
        if s.mail_reply_to:
            mail["Reply-To"] = s.mail_reply_to
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(usegmt=True)
        domain = parseaddr(s.mail_from)[1].rpartition("@")[2] or "localhost"
        mail["Message-ID"] = make_msgid(domain=domain)
        mail.set_content(message.text)
        mail.add_alternative(message.html, subtype="html")
        context = ssl.create_default_context(cafile=s.smtp_ca_file)
        smtp: smtplib.SMTP
        if s.smtp_tls == "TLS":
            smtp = smtplib.SMTP_SSL(
                s.smtp_host, s.smtp_port, timeout=s.smtp_timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
        with smtp:
            if s.smtp_tls == "STARTTLS":
                smtp.starttls(context=context)
            if s.smtp_username and s.smtp_password:
                smtp.login(s.smtp_username, s.smtp_password)
            smtp.send_message(mail)
