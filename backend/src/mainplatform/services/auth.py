"""Accounts and sessions: register, login, refresh rotation with reuse detection, logout."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Literal

from psycopg import AsyncConnection, errors
from psycopg.rows import DictRow

from mainplatform import schemas
from mainplatform.cache import Cache, Limit, limit_key
from mainplatform.config import Settings
from mainplatform.db import Database
from mainplatform.errors import Conflict, Forbidden, RateLimited, Unauthorized, account_gone
from mainplatform.metrics import Metrics
from mainplatform.security.devices import DeviceCookies
from mainplatform.security.passwords import PasswordHasher, policy_violation
from mainplatform.security.tokens import (
    AccessClaims,
    AccessTokens,
    InvalidToken,
    hash_refresh_token,
    new_refresh_token,
    successor_key,
    successor_token,
)
from mainplatform.services.accounts import USER_COLUMNS, email_problem, normalize_email, user_out

log = logging.getLogger("mainplatform.auth")

NO_PASSWORD = "This account signs in through the identity provider and has no password here."  # noqa: S105

RevokeReason = Literal["logout", "logout_all", "password_change", "reuse", "disabled"]


@dataclass(frozen=True, slots=True)
class Session:
    """What a successful login or refresh hands to the client."""

    user_id: int
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_max_age: int
    device_cookie: str | None = None  # a new device cookie for the client to keep


class AuthService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        cache: Cache,
        hasher: PasswordHasher,
        tokens: AccessTokens,
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.db = db
        self.cache = cache
        self.hasher = hasher
        self.tokens = tokens
        self.metrics = metrics
        self.devices = DeviceCookies(settings.jwt_secret)
        self._successor_key = successor_key(settings.jwt_secret)

    # -- rate limits ---------------------------------------------------------------------

    async def limit(self, *limits: Limit) -> None:
        wait, _ = await self.cache.check(limits)
        if wait:
            self.metrics.auth("rate_limited")
            raise RateLimited(wait)

    def ip_budget(self, ip: str) -> Limit:
        return Limit(limit_key("api-ip", ip), self.settings.rate_limit_api)

    # -- access tokens -------------------------------------------------------------------

    async def authenticate(self, token: str) -> AccessClaims:
        """Verify an access token, charge the caller's API budget and check revocation."""
        try:
            claims = self.tokens.verify(token)
        except InvalidToken:
            self.metrics.auth("token_rejected")
            raise Unauthorized(
                "The access token is invalid or expired.", code="invalid_token"
            ) from None
        budget = Limit(limit_key("api-user", str(claims.user_id)), self.settings.rate_limit_api)
        wait, revoked = await self.cache.check([budget], claims)
        if revoked:
            self.metrics.auth("token_rejected")
            raise Unauthorized("This session has ended; sign in again.", code="token_revoked")
        if wait:
            self.metrics.auth("rate_limited")
            raise RateLimited(wait)
        return claims

    # -- registration and login ----------------------------------------------------------

    async def register(self, email: str, password: str, ip: str) -> schemas.User:
        await self.limit(
            Limit(limit_key("register-ip", ip), self.settings.rate_limit_register_ip),
            self.ip_budget(ip),
        )
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
                cur = await conn.execute(
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
        return user_out(row)

    async def login(
        self, email: str, password: str, ip: str, device_cookie: str | None = None
    ) -> Session:
        """Every attempt is charged to the client IP's budget, and to the budget of the
        device that signed in to this account before (its device cookie) or, without one,
        to the account's budget for unknown clients: an attacker guessing the password
        exhausts the latter, while the owner's own browser keeps signing in."""
        email = normalize_email(email)
        device = self.devices.device(device_cookie, email)
        if device is not None:
            account_budget = Limit(
                limit_key("login-device", device), self.settings.rate_limit_login_device
            )
        else:
            account_budget = Limit(
                limit_key("login-account", email.lower()), self.settings.rate_limit_login_account
            )
        await self.limit(
            account_budget, Limit(limit_key("login-ip", ip), self.settings.rate_limit_login_ip)
        )
        async with self.db.connection() as conn:
            cur = await conn.execute(
                "SELECT id, password_hash, disabled FROM users WHERE lower(email) = lower(%s)",
                (email,),
            )
            row = await cur.fetchone()
        ok = await self.hasher.verify(row["password_hash"] if row else None, password)
        if not ok or row is None:
            self.metrics.auth("login_failure")
            raise Unauthorized("Wrong e-mail address or password.", code="invalid_credentials")
        if row["disabled"]:
            self.metrics.auth("login_failure")
            raise Forbidden("This account is disabled.", code="account_disabled")
        if self.hasher.needs_rehash(row["password_hash"]):
            new_hash = await self.hasher.hash(password)
            async with self.db.connection() as conn:
                await conn.execute(
                    "UPDATE users SET password_hash = %s WHERE id = %s", (new_hash, row["id"])
                )
        session = await self.start_session(row["id"])
        self.metrics.auth("login_success")
        if device is None:
            session = replace(session, device_cookie=self.devices.issue(email))
        return session

    async def start_session(self, user_id: int) -> Session:
        """A new refresh family with its first token, and an access token bound to it."""
        family = uuid.uuid4()
        token = new_refresh_token()
        absolute = timedelta(seconds=self.settings.refresh_absolute_ttl)
        idle = timedelta(
            seconds=min(self.settings.refresh_idle_ttl, self.settings.refresh_absolute_ttl)
        )
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO refresh_families (id, user_id, expires_at)"
                " VALUES (%s, %s, now() + %s)",
                (family, user_id, absolute),
            )
            await conn.execute(
                "INSERT INTO refresh_tokens (token_hash, family_id, idle_expires_at) "
                "VALUES (%s, %s, now() + %s)",
                (hash_refresh_token(token), family, idle),
            )
        return self._session(user_id, str(family), token, self.settings.refresh_absolute_ttl)

    def _session(self, user_id: int, sid: str, refresh: str, max_age: int) -> Session:
        access, _ = self.tokens.issue(user_id, sid)
        return Session(
            user_id=user_id,
            access_token=access,
            expires_in=self.tokens.ttl,
            refresh_token=refresh,
            refresh_max_age=max(0, max_age),
        )

    # -- refresh rotation ----------------------------------------------------------------

    async def refresh(self, token: str, ip: str) -> Session:
        await self.limit(self.ip_budget(ip))
        outcome, row, new_token = await self._rotate(token)
        if outcome == "reused":
            await self.cache.deny_sessions([str(row["family_id"])], self.settings.access_token_ttl)
            self.metrics.auth("refresh_reuse_detected")
            log.warning(
                "refresh token reuse detected; family revoked",
                extra={"user_id": row["user_id"], "family": str(row["family_id"])},
            )
            raise Unauthorized(
                "This sign-in was ended for safety because an old refresh token was used again.",
                code="refresh_token_reused",
            )
        if outcome == "revoked" and row["revoked_reason"] == "reuse":
            self.metrics.auth("refresh_rejected")
            raise Unauthorized(
                "This sign-in was ended for safety because an old refresh token was used again.",
                code="refresh_token_reused",
            )
        if outcome not in ("ok", "retried"):
            self.metrics.auth("refresh_rejected")
            raise Unauthorized(
                "The session has expired or was ended; sign in again.", code="invalid_refresh_token"
            )
        self.metrics.auth("refresh" if outcome == "ok" else "refresh_retried")
        return self._session(
            row["user_id"], str(row["family_id"]), new_token, int(row["family_seconds_left"])
        )

    async def _rotate(self, token: str) -> tuple[str, dict[str, Any], str]:
        """One transaction: lock the token and its family, then rotate or revoke.

        A token presented again within ``refresh_reuse_grace`` seconds of its rotation, while
        its successor is still unused, yields that same successor (a retry whose response was
        lost, or parallel refreshes from several tabs); any other reuse revokes the family.
        """
        token_hash = hash_refresh_token(token)
        new_token = successor_token(self._successor_key, token)
        idle = timedelta(seconds=self.settings.refresh_idle_ttl)
        grace = timedelta(seconds=self.settings.refresh_reuse_grace)
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "SELECT t.id, t.used_at, t.idle_expires_at < now() AS idle_expired,"
                " t.used_at >= clock_timestamp() - %s AS in_grace,"
                " f.id AS family_id, f.user_id, f.revoked_at, f.revoked_reason,"
                " f.expires_at < now() AS expired,"
                " extract(epoch FROM f.expires_at - now())::bigint AS family_seconds_left,"
                " u.disabled"
                " FROM refresh_tokens t"
                " JOIN refresh_families f ON f.id = t.family_id"
                " JOIN users u ON u.id = f.user_id"
                " WHERE t.token_hash = %s"
                " FOR UPDATE OF t, f",
                (grace, token_hash),
            )
            row = await cur.fetchone()
            if row is None:
                return "unknown", {}, ""
            if row["revoked_at"] is not None:
                return "revoked", row, ""
            if row["used_at"] is not None:
                if row["in_grace"] and not (row["expired"] or row["disabled"]):
                    cur = await conn.execute(
                        "SELECT 1 FROM refresh_tokens"
                        " WHERE token_hash = %s AND parent_id = %s AND used_at IS NULL",
                        (hash_refresh_token(new_token), row["id"]),
                    )
                    if await cur.fetchone() is not None:
                        return "retried", row, new_token
                await self._revoke_family(conn, row["family_id"], "reuse")
                return "reused", row, ""
            if row["expired"] or row["idle_expired"] or row["disabled"]:
                return "expired", row, ""
            await conn.execute(
                "UPDATE refresh_tokens SET used_at = now() WHERE id = %s", (row["id"],)
            )
            await conn.execute(
                "INSERT INTO refresh_tokens (token_hash, family_id, parent_id, idle_expires_at)"
                " SELECT %s, %s, %s, least(now() + %s, f.expires_at)"
                " FROM refresh_families f WHERE f.id = %s",
                (
                    hash_refresh_token(new_token),
                    row["family_id"],
                    row["id"],
                    idle,
                    row["family_id"],
                ),
            )
            return "ok", row, new_token

    @staticmethod
    async def _revoke_family(
        conn: AsyncConnection[DictRow], family_id: uuid.UUID, reason: RevokeReason
    ) -> None:
        await conn.execute(
            "UPDATE refresh_families SET revoked_at = now(), revoked_reason = %s"
            " WHERE id = %s AND revoked_at IS NULL",
            (reason, family_id),
        )

    # -- ending sessions -----------------------------------------------------------------

    async def logout(self, access: AccessClaims | None, refresh: str | None) -> None:
        families: list[str] = []
        async with self.db.transaction() as conn:
            if access is not None:
                await self._revoke_family(conn, uuid.UUID(access.sid), "logout")
                families.append(access.sid)
            if refresh:
                cur = await conn.execute(
                    "UPDATE refresh_families f SET revoked_at = coalesce(f.revoked_at, now()),"
                    " revoked_reason = coalesce(f.revoked_reason, 'logout')"
                    " FROM refresh_tokens t WHERE t.family_id = f.id AND t.token_hash = %s"
                    " RETURNING f.id",
                    (hash_refresh_token(refresh),),
                )
                families.extend(str(r["id"]) for r in await cur.fetchall())
        if access is not None:
            await self.cache.deny_token(access, int(time.time()))
        await self.cache.deny_sessions(families, self.settings.access_token_ttl)
        self.metrics.auth("logout")

    async def end_sessions(
        self,
        conn: AsyncConnection[DictRow],
        user_id: int,
        reason: RevokeReason,
        *,
        keep: str | None = None,
    ) -> list[str]:
        """Revoke every refresh family of a user (but ``keep``); returns the revoked ids."""
        cur = await conn.execute(
            "UPDATE refresh_families SET revoked_at = now(), revoked_reason = %s"
            " WHERE user_id = %s AND revoked_at IS NULL AND id IS DISTINCT FROM %s RETURNING id",
            (reason, user_id, uuid.UUID(keep) if keep else None),
        )
        return [str(r["id"]) for r in await cur.fetchall()]

    async def cut_off(self, user_id: int, sids: list[str]) -> None:
        """Make every access token issued until now unusable (Redis side of logout-all)."""
        ttl = self.settings.access_token_ttl
        await self.cache.deny_sessions(sids, ttl)
        await self.cache.set_not_before(user_id, int(time.time()), ttl)

    async def logout_all(self, user_id: int) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE users SET tokens_valid_after = now() WHERE id = %s", (user_id,)
            )
            sids = await self.end_sessions(conn, user_id, "logout_all")
        await self.cut_off(user_id, sids)
        self.metrics.auth("logout_all")

    async def change_password(self, access: AccessClaims, current: str, new: str) -> None:
        async with self.db.connection() as conn:
            cur = await conn.execute(
                "SELECT email, password_hash FROM users WHERE id = %s", (access.user_id,)
            )
            row = await cur.fetchone()
        if row is None:
            raise account_gone()
        if row["password_hash"] is None:
            raise schemas.field_error("current_password", NO_PASSWORD)
        if not await self.hasher.verify(row["password_hash"], current):
            raise schemas.field_error("current_password", "The current password is wrong.")
        if reason := policy_violation(
            new, min_length=self.settings.password_min_length, email=row["email"]
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
            sids = await self.end_sessions(conn, access.user_id, "password_change", keep=access.sid)
        await self.cache.deny_sessions(sids, self.settings.access_token_ttl)
        self.metrics.auth("password_changed")

    async def verify_password(self, user_id: int, password: str) -> bool:
        async with self.db.connection() as conn:
            cur = await conn.execute("SELECT password_hash FROM users WHERE id = %s", (user_id,))
            row = await cur.fetchone()
        return await self.hasher.verify(row["password_hash"] if row else None, password)
