"""Sessions: access tokens and their revocation, and the refresh-token family state machine
(rotation with reuse detection and a short grace window for retries)."""

from __future__ import annotations

import asyncio
import enum
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from psycopg import AsyncConnection
from psycopg.rows import DictRow, class_row

from mainplatform.cache import Cache, Guard, Unseeded
from mainplatform.config import Settings
from mainplatform.db import Database
from mainplatform.errors import RateLimited, Unauthorized
from mainplatform.metrics import Metrics
from mainplatform.security.client import Client
from mainplatform.security.tokens import (
    AccessClaims,
    AccessTokens,
    InvalidToken,
    hash_refresh_token,
    new_refresh_token,
    successor_key,
    successor_token,
)
from mainplatform.services.limits import Limits
from mainplatform.services.mail import Mail

log = logging.getLogger("mainplatform.auth")

RevokeReason = Literal["logout", "logout_all", "password_change", "reuse", "disabled"]
REUSED = "This sign-in was ended for safety because an old refresh token was used again."


@dataclass(frozen=True, slots=True)
class Session:
    """What a successful login or refresh hands to the client."""

    user_id: int
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_max_age: int
    device_cookie: str | None = None  # a new device cookie for the client to keep


@dataclass(frozen=True, slots=True)
class TokenState:
    """A refresh token and its family, locked for one rotation."""

    id: int
    used_at: datetime | None
    idle_expired: bool
    in_grace: bool | None
    family_id: uuid.UUID
    user_id: int
    revoked_at: datetime | None
    revoked_reason: str | None
    expired: bool
    family_seconds_left: int
    disabled: bool


class Outcome(enum.Enum):
    ROTATED = "rotated"  # the token was current: here is its successor
    RETRIED = "retried"  # rotated moments ago, successor unused: the same successor again
    REUSED = "reused"  # an old token again: the family is revoked now
    REVOKED = "revoked"  # the family was revoked before
    EXPIRED = "expired"  # idle or absolute expiry, or the account is disabled
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Rotation:
    outcome: Outcome
    state: TokenState | None = None
    successor: str | None = None


ROTATION_SQL = (
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
    " FOR UPDATE OF t, f"
)


class Sessions:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        cache: Cache,
        tokens: AccessTokens,
        limits: Limits,
        metrics: Metrics,
        mail: Mail,
    ) -> None:
        self.mail = mail
        self.settings = settings
        self.db = db
        self.cache = cache
        self.tokens = tokens
        self.limits = limits
        self.metrics = metrics
        self._successor_key = successor_key(settings.jwt_secret)
        self._seeding = asyncio.Lock()

    # -- access tokens -------------------------------------------------------------------

    async def authenticate(self, token: str, *, write: bool = False) -> tuple[AccessClaims, Guard]:
        """Verify an access token, charge the caller's API budget and check revocation.
        Returns the claims and what the guard read of the user's data version (``ReadCache``;
        ``write``: the request may write the user's data, ``Cache.check``)."""
        try:
            claims = self.tokens.verify(token)
        except InvalidToken:
            self.metrics.auth("token_rejected")
            raise Unauthorized(
                "The access token is invalid or expired.", code="invalid_token"
            ) from None
        budget = [self.limits.user(claims.user_id)]
        try:
            guard = await self.cache.check(budget, claims, write=write)
        except Unseeded:
            await self.reseed()
            guard = await self.cache.check(budget, claims, write=write)
        if guard.revoked:
            self.metrics.auth("token_rejected")
            raise Unauthorized("This session has ended; sign in again.", code="token_revoked")
        if guard.wait:
            self.metrics.auth("rate_limited")
            raise RateLimited(guard.wait)
        return claims, guard

    async def reseed(self) -> None:
        """Redis lost its data: copy back from PostgreSQL every revocation that can still
        matter (families revoked, and per-user cutoffs set, within one access-token life)."""
        async with self._seeding:
            ttl = self.settings.access_token_ttl
            window = timedelta(seconds=ttl + 60)
            async with self.db.connection() as conn:
                cur = await conn.execute(
                    "SELECT id FROM refresh_families WHERE revoked_at > now() - %s", (window,)
                )
                sids = [str(r["id"]) for r in await cur.fetchall()]
                cur = await conn.execute(
                    "SELECT id, floor(extract(epoch FROM tokens_valid_after))::bigint AS cutoff"
                    " FROM users WHERE tokens_valid_after > now() - %s",
                    (window,),
                )
                cutoffs = [(r["id"], r["cutoff"]) for r in await cur.fetchall()]
            await self.cache.seed(sids, cutoffs, ttl)
            log.warning(
                "Redis held no revocations; copied %d revoked sessions and %d cutoffs back",
                len(sids),
                len(cutoffs),
            )

    # -- sign-in -------------------------------------------------------------------------

    async def start(self, user_id: int) -> Session:
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

    async def refresh(self, token: str, client: Client) -> Session:
        await self.limits.charge(self.limits.ip(client.ip))
        rotation = await self._rotate(token, client)
        state = rotation.state
        if rotation.outcome is Outcome.REUSED and state is not None:
            await self.deny([str(state.family_id)])
            self.metrics.auth("refresh_reuse_detected")
            log.warning(
                "refresh token reuse detected; family revoked",
                extra={"user_id": state.user_id, "family": str(state.family_id)},
            )
            raise Unauthorized(REUSED, code="refresh_token_reused")
        if rotation.outcome is Outcome.REVOKED and state and state.revoked_reason == "reuse":
            self.metrics.auth("refresh_rejected")
            raise Unauthorized(REUSED, code="refresh_token_reused")
        if state is None or rotation.successor is None:
            self.metrics.auth("refresh_rejected")
            raise Unauthorized(
                "The session has expired or was ended; sign in again.", code="invalid_refresh_token"
            )
        retried = rotation.outcome is Outcome.RETRIED
        self.metrics.auth("refresh_retried" if retried else "refresh")
        return self._session(
            state.user_id, str(state.family_id), rotation.successor, state.family_seconds_left
        )

    async def _rotate(self, token: str, client: Client) -> Rotation:
        """One transaction: lock the token and its family, then rotate or revoke.

        A token presented again within ``refresh_reuse_grace`` seconds of its rotation, while
        its successor is still unused, yields that same successor (a retry whose response was
        lost, or parallel refreshes from several tabs); any other reuse revokes the family.
        The successor is derived from the token (``successor_token``): only hashes are stored.
        """
        successor = successor_token(self._successor_key, token)
        idle = timedelta(seconds=self.settings.refresh_idle_ttl)
        grace = timedelta(seconds=self.settings.refresh_reuse_grace)
        async with self.db.transaction() as conn:
            cur = conn.cursor(row_factory=class_row(TokenState))
            await cur.execute(ROTATION_SQL, (grace, hash_refresh_token(token)))
            state = await cur.fetchone()
            if state is None:
                return Rotation(Outcome.UNKNOWN)
            if state.revoked_at is not None:
                return Rotation(Outcome.REVOKED, state)
            if state.used_at is not None:
                if state.in_grace and not (state.expired or state.disabled):
                    cur2 = await conn.execute(
                        "SELECT 1 FROM refresh_tokens"
                        " WHERE token_hash = %s AND parent_id = %s AND used_at IS NULL",
                        (hash_refresh_token(successor), state.id),
                    )
                    if await cur2.fetchone() is not None:
                        return Rotation(Outcome.RETRIED, state, successor)
                await self._revoke_family(conn, state.family_id, "reuse")
                await self._notify_reuse(conn, state.user_id, client)
                return Rotation(Outcome.REUSED, state)
            if state.expired or state.idle_expired or state.disabled:
                return Rotation(Outcome.EXPIRED, state)
            await conn.execute(
                "UPDATE refresh_tokens SET used_at = now() WHERE id = %s", (state.id,)
            )
            await conn.execute(
                "INSERT INTO refresh_tokens (token_hash, family_id, parent_id, idle_expires_at)"
                " SELECT %s, %s, %s, least(now() + %s, f.expires_at)"
                " FROM refresh_families f WHERE f.id = %s",
                (hash_refresh_token(successor), state.family_id, state.id, idle, state.family_id),
            )
            return Rotation(Outcome.ROTATED, state, successor)

    async def _notify_reuse(
        self, conn: AsyncConnection[DictRow], user_id: int, client: Client
    ) -> None:
        """The security notice of a detected reuse, in the transaction that revokes."""
        cur = await conn.execute("SELECT email FROM users WHERE id = %s", (user_id,))
        row = await cur.fetchone()
        if row is not None:
            await self.mail.enqueue(
                conn, "refresh_reuse", row["email"], user_id=user_id, params=client.params()
            )

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
        await self.deny(families)
        self.metrics.auth("logout")

    async def end_all(
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

    async def deny(self, sids: list[str]) -> None:
        """Stop the access tokens of these sessions at once (their families are revoked in
        PostgreSQL already; the denial lasts one access-token life)."""
        await self.cache.deny_sessions(sids, self.settings.access_token_ttl)

    async def cut_off(self, user_id: int, sids: list[str]) -> None:
        """Make every access token issued until now unusable (Redis side of logout-all).
        PostgreSQL holds the same cutoff (``users.tokens_valid_after``): ``reseed``."""
        await self.deny(sids)
        await self.cache.set_not_before(user_id, int(time.time()), self.settings.access_token_ttl)

    async def logout_all(self, user_id: int) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE users SET tokens_valid_after = now() WHERE id = %s", (user_id,)
            )
            sids = await self.end_all(conn, user_id, "logout_all")
        await self.cut_off(user_id, sids)
        await self.cache.changed(user_id)  # the row changed (a column /users/me omits, today)
        self.metrics.auth("logout_all")
