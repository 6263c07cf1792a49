"""Accounts: e-mail rules, the user row as the API shows it, registration, sign-in and
passwords."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

from psycopg import errors

from mainplatform import schemas
from mainplatform.config import Settings
from mainplatform.db import Database, typed
from mainplatform.errors import Conflict, Forbidden, Unauthorized, account_gone
from mainplatform.metrics import Metrics
from mainplatform.security.devices import DeviceCookies
from mainplatform.security.passwords import PasswordHasher, policy_violation
from mainplatform.security.tokens import AccessClaims
from mainplatform.services.limits import Limits
from mainplatform.services.sessions import Session, Sessions

_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f.]+(\.[^@\s\x00-\x1f\x7f.]+)+")

USER_COLUMNS = (
    "id, email, display_name, role, disabled, created_at,"
    " (password_hash IS NOT NULL) AS has_password"
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


@dataclass(frozen=True, slots=True)
class StatusRow:
    """An account's id and whether it is disabled (OIDC sign-in)."""

    id: int
    disabled: bool


SELECT_SIGN_IN = "SELECT id, email, password_hash, disabled FROM users"

NO_PASSWORD = "This account signs in through the identity provider and has no password here."  # noqa: S105


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
    ) -> None:
        self.settings = settings
        self.db = db
        self.hasher = hasher
        self.sessions = sessions
        self.limits = limits
        self.metrics = metrics
        self.devices = DeviceCookies(settings.jwt_secret)

    async def register(self, email: str, password: str, ip: str) -> schemas.User:
        await self.limits.charge(*self.limits.register(ip))
        email = normalize_email(email)
        if problem := email_problem(email):
            raise schemas.field_error("email", problem)
        if reason := policy_violation(
            password, min_length=self.settings.password_min_length, email=email
        ):
            raise schemas.field_error("password", reason)
        password_hash = await self.hasher.hash(password)
        try:
            async with self.db.connection() as conn:
                cur = typed(conn, schemas.User)
                await cur.execute(
                    f"INSERT INTO users (email, password_hash) VALUES (%s, %s) "
                    f"RETURNING {USER_COLUMNS}",
                    (email, password_hash),
                )
                row = await cur.fetchone()
        except errors.UniqueViolation:
            raise Conflict(
                "An account with this e-mail address already exists.", code="email_taken"
            ) from None
        assert row is not None
        self.metrics.auth("register")
        return row

    async def login(
        self, email: str, password: str, ip: str, device_cookie: str | None = None
    ) -> Session:
        """Check the password (budgets: ``Limits.login``) and start a session; a client
        without a device cookie for this account gets one."""
        email = normalize_email(email)
        device = self.devices.device(device_cookie, email)
        await self.limits.charge(*self.limits.login(email, ip, device))
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
        if self.hasher.needs_rehash(row.password_hash):
            new_hash = await self.hasher.hash(password)
            async with self.db.connection() as conn:
                await conn.execute(
                    "UPDATE users SET password_hash = %s WHERE id = %s", (new_hash, row.id)
                )
        session = await self.sessions.start(row.id)
        self.metrics.auth("login_success")
        if device is None:
            session = replace(session, device_cookie=self.devices.issue(email))
        return session

    async def change_password(self, access: AccessClaims, current: str, new: str) -> None:
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
        await self.sessions.deny(sids)
        self.metrics.auth("password_changed")

    async def verify_password(self, user_id: int, password: str) -> bool:
        row = await self._password_row(user_id)
        return await self.hasher.verify(row.password_hash if row else None, password)

    async def _password_row(self, user_id: int) -> PasswordRow | None:
        async with self.db.connection() as conn:
            cur = typed(conn, PasswordRow)
            await cur.execute(f"{SELECT_SIGN_IN} WHERE id = %s", (user_id,))
            return await cur.fetchone()
