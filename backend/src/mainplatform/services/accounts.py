"""Accounts: e-mail rules, the user row as the API shows it, registration, sign-in,
passwords, and the two flows by mail: password reset and e-mail verification."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Literal

from psycopg import errors

from mainplatform import schemas
from mainplatform.config import Settings
from mainplatform.db import Database, typed
from mainplatform.errors import Conflict, Forbidden, Unauthorized, account_gone
from mainplatform.metrics import Metrics
from mainplatform.security.client import Client
from mainplatform.security.devices import DeviceCookies
from mainplatform.security.passwords import PasswordHasher, policy_violation
from mainplatform.security.tokens import AccessClaims
from mainplatform.services import account_tokens
from mainplatform.services.limits import Limits
from mainplatform.services.mail import Mail
from mainplatform.services.sessions import Session, Sessions

_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f.]+(\.[^@\s\x00-\x1f\x7f.]+)+")

USER_COLUMNS = (
    "id, email, display_name, role, disabled, created_at,"
    " (password_hash IS NOT NULL) AS has_password,"
    " (email_verified_at IS NOT NULL) AS email_verified"
)


def normalize_email(email: str) -> str:
    """Trim and NFC-normalise; uniqueness is then case-insensitive (``lower(email)``)."""
    return unicodedata.normalize("NFC", email).strip()


def email_problem(email: str) -> str | None:
    if len(email) > 254:
        return "An e-mail address has at most 254 characters."
    if not _EMAIL.fullmatch(email):
        return "This is not a valid e-mail address."
    return None


@dataclass(frozen=True, slots=True)
class PasswordRow:
    """What sign-in and password changes read of an account."""

    id: int
    email: str
    password_hash: str | None
    disabled: bool
    email_verified: bool


@dataclass(frozen=True, slots=True)
class StatusRow:
    """An account's id and whether it is disabled (OIDC sign-in)."""

    id: int
    disabled: bool


SELECT_SIGN_IN = (
    "SELECT id, email, password_hash, disabled,"
    " (email_verified_at IS NOT NULL) AS email_verified FROM users"
)

NO_PASSWORD = "This account signs in through the identity provider and has no password here."  # noqa: S105
NOT_VERIFIED = (
    "Confirm your e-mail address first: open the link we sent to it, or ask for a new one."
)
MAIL_ON_ITS_WAY = (
    "If an account uses this address, a mail with a link is on its way to it. "
    "It can take a few minutes; look in the spam folder too."
)


class Accounts:
    """Accounts and their passwords: register, sign in, change and check the password."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        hasher: PasswordHasher,
        sessions: Sessions,
        limits: Limits,
        metrics: Metrics,
        mail: Mail,
    ) -> None:
        self.mail = mail
        self.settings = settings
        self.db = db
        self.hasher = hasher
        self.sessions = sessions
        self.limits = limits
        self.metrics = metrics
        self.devices = DeviceCookies(settings.jwt_secret)

    async def register(self, email: str, password: str, client: Client) -> schemas.User:
        await self.limits.charge(*self.limits.register(client.ip))
        email = normalize_email(email)
        if problem := email_problem(email):
            raise schemas.field_error("email", problem)
        if reason := policy_violation(
            password, min_length=self.settings.password_min_length, email=email
        ):
            raise schemas.field_error("password", reason)
        password_hash = await self.hasher.hash(password)
        try:
            async with self.db.transaction() as conn:
                cur = typed(conn, schemas.User)
                await cur.execute(
                    f"INSERT INTO users (email, password_hash) VALUES (%s, %s) "
                    f"RETURNING {USER_COLUMNS}",
                    (email, password_hash),
                )
                row = await cur.fetchone()
                assert row is not None
                await self.mail.enqueue(conn, "verify_email", email, user_id=row.id)
        except errors.UniqueViolation:
            raise Conflict(
                "An account with this e-mail address already exists.", code="email_taken"
            ) from None
        assert row is not None
        await self.sessions.cache.changed(row.id)  # an id reused after a restore
        self.metrics.auth("register")
        return row

    async def login(
        self, email: str, password: str, client: Client, device_cookie: str | None = None
    ) -> Session:
        """Check the password (budgets: ``Limits.login``) and start a session; a client
        without a device cookie for this account gets one (and, if the account signed in
        before, its owner a notice)."""
        email = normalize_email(email)
        device = self.devices.device(device_cookie, email)
        await self.limits.charge(*self.limits.login(email, client.ip, device))
        async with self.db.connection() as conn:
            cur = typed(conn, PasswordRow)
            await cur.execute(f"{SELECT_SIGN_IN} WHERE lower(email) = lower(%s)", (email,))
            row = await cur.fetchone()
        ok = await self.hasher.verify(row.password_hash if row else None, password)
        if not ok or row is None or row.password_hash is None:
            self.metrics.auth("login_failure")
            raise Unauthorized("Wrong e-mail address or password.", code="invalid_credentials")
        if row.disabled:
            self.metrics.auth("login_failure")
            raise Forbidden("This account is disabled.", code="account_disabled")
        if self.settings.email_verification_required and not row.email_verified:
            self.metrics.auth("login_failure")
            raise Forbidden(NOT_VERIFIED, code="email_not_verified")
        if device is None and self.settings.notify_new_device:
            await self._notify_new_device(row, client)
        if self.hasher.needs_rehash(row.password_hash):
            new_hash = await self.hasher.hash(password)
            async with self.db.connection() as conn:
                await conn.execute(
                    "UPDATE users SET password_hash = %s WHERE id = %s", (new_hash, row.id)
                )
            await self.sessions.cache.changed(row.id)
        session = await self.sessions.start(row.id)
        self.metrics.auth("login_success")
        if device is None:
            session = replace(session, device_cookie=self.devices.issue(email))
        return session

    async def _notify_new_device(self, row: PasswordRow, client: Client) -> None:
        """A notice of a sign-in from a browser without this account's device cookie,
        unless it is the account's first sign-in (right after registering)."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "SELECT 1 FROM refresh_families WHERE user_id = %s LIMIT 1", (row.id,)
            )
            if await cur.fetchone() is not None:
                await self.mail.enqueue(
                    conn, "new_device", row.email, user_id=row.id, params=client.params()
                )

    async def change_password(
        self, access: AccessClaims, current: str, new: str, client: Client
    ) -> None:
        row = await self._password_row(access.user_id)
        if row is None:
            raise account_gone()
        if row.password_hash is None:
            raise schemas.field_error("current_password", NO_PASSWORD)
        if not await self.hasher.verify(row.password_hash, current):
            raise schemas.field_error("current_password", "The current password is wrong.")
        if reason := policy_violation(
            new, min_length=self.settings.password_min_length, email=row.email
        ):
            raise schemas.field_error("new_password", reason)
        if new == current:
            raise schemas.field_error(
                "new_password", "Choose a password different from the current one."
            )
        new_hash = await self.hasher.hash(new)
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE users SET password_hash = %s, updated_at = now() WHERE id = %s",
                (new_hash, access.user_id),
            )
            sids = await self.sessions.end_all(
                conn, access.user_id, "password_change", keep=access.sid
            )
            await account_tokens.revoke(conn, access.user_id, "reset_password")
            await self.mail.enqueue(
                conn, "password_changed", row.email, user_id=row.id, params=client.params()
            )
        await self.sessions.cache.changed(access.user_id)
        await self.sessions.deny(sids)
        self.metrics.auth("password_changed")

    # -- by mail: password reset and address verification --------------------------------

    async def request_mail(
        self, kind: Literal["reset_password", "verify_email"], email: str, client: Client
    ) -> schemas.Accepted:
        """Queue a reset or verification mail for an address. The same work and the same
        answer whether or not an account has it: the delivery worker looks the account up
        later (and sends nothing for an unknown or already verified address)."""
        email = normalize_email(email)
        await self.limits.charge(*self.limits.mail(email, client.ip))
        if problem := email_problem(email):
            raise schemas.field_error("email", problem)
        async with self.db.transaction() as conn:
            await self.mail.enqueue(conn, kind, email, params=client.params())
        self.metrics.auth(
            "password_reset_requested"
            if kind == "reset_password"
            else "email_verification_requested"
        )
        return schemas.Accepted(message=MAIL_ON_ITS_WAY)

    async def reset_password(self, token: str, new: str, client: Client) -> None:
        """Set a new password with a reset link's token: once, for the address the link was
        sent to; every session of the account ends."""
        async with self.db.connection() as conn:
            found = await account_tokens.peek(conn, "reset_password", token)
        if found is None:
            self.metrics.auth("account_token_rejected")
            raise account_tokens.invalid("reset_password")
        # The policy first: a refused password leaves the link usable.
        if reason := policy_violation(
            new, min_length=self.settings.password_min_length, email=found.email
        ):
            raise schemas.field_error("new_password", reason)
        new_hash = await self.hasher.hash(new)
        async with self.db.transaction() as conn:
            used = await account_tokens.use(conn, "reset_password", token)
            cur = await conn.execute(
                "UPDATE users SET password_hash = %s, tokens_valid_after = now(),"
                " email_verified_at = coalesce(email_verified_at, now()), updated_at = now()"
                " WHERE id = %s AND lower(email) = lower(%s) AND NOT disabled RETURNING email",
                (new_hash, used.user_id if used else None, used.email if used else ""),
            )
            user = await cur.fetchone()
            if used is None or user is None:  # used meanwhile, or the address changed
                self.metrics.auth("account_token_rejected")
                raise account_tokens.invalid("reset_password")
            sids = await self.sessions.end_all(conn, used.user_id, "password_change")
            await account_tokens.revoke(conn, used.user_id, "reset_password")
            await self.mail.enqueue(
                conn,
                "password_changed",
                user["email"],
                user_id=used.user_id,
                params=client.params(),
            )
        await self.sessions.cache.changed(used.user_id)
        await self.sessions.cut_off(used.user_id, sids)
        self.metrics.auth("password_reset")

    async def verify_email(self, token: str) -> None:
        """Mark the address verified with a verification link's token: once, and only while
        the account still has the address the link was sent to."""
        async with self.db.transaction() as conn:
            used = await account_tokens.use(conn, "verify_email", token)
            cur = await conn.execute(
                "UPDATE users SET email_verified_at = now(), updated_at = now()"
                " WHERE id = %s AND lower(email) = lower(%s) AND email_verified_at IS NULL"
                " RETURNING id",
                (used.user_id if used else None, used.email if used else ""),
            )
            if used is None or await cur.fetchone() is None:
                self.metrics.auth("account_token_rejected")
                raise account_tokens.invalid("verify_email")
        await self.sessions.cache.changed(used.user_id)
        self.metrics.auth("email_verified")

    async def verify_password(self, user_id: int, password: str) -> bool:
        row = await self._password_row(user_id)
        return await self.hasher.verify(row.password_hash if row else None, password)

    async def _password_row(self, user_id: int) -> PasswordRow | None:
        async with self.db.connection() as conn:
            cur = typed(conn, PasswordRow)
            await cur.execute(f"{SELECT_SIGN_IN} WHERE id = %s", (user_id,))
            return await cur.fetchone()
