"""Redis: rate limits (GCRA, one atomic Lua script) and access-token revocation."""

from __future__ import annotations

import asyncio
import hashlib
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from mainplatform.config import RateLimit
from mainplatform.errors import ServiceUnavailable
from mainplatform.security.tokens import AccessClaims

PREFIX = "mp:"

# Redis' clock in ms, as `now`, in the scripts below.
NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# One atomic script per request: the generic cell rate algorithm over the rate-limit keys, the
# revocation state of the access token and the version of its user's data. A request is allowed
# only when every limit allows it, and only then are the limits charged. Time comes from the
# Redis server, so every worker shares one clock.
#   KEYS: the limit keys, then (when ARGV[1] == "1") deny:jti, deny:sid, nbf:user, seeded,
#         ver:user, wrote:user
#   ARGV: check_token, issued_at, write ("1": the request may write the user's data), the
#         write lease in ms, then interval_ms and tolerance_ms per limit key
#   returns {wait_ms (0 = allowed), revoked (0/1), unseeded (0/1), data version, settled (0/1)}
# "unseeded": Redis has lost its data (the revocations are in PostgreSQL too); nothing is
# charged, and the caller copies the revocations back before it asks again.
# The data version ("<seeded token>:<ver:user>") changes whenever the user's data may have:
# an allowed writing request moves it here, before it writes, and stamps wrote:user with the
# time; a write to the user's row moves it again after its commit (``Cache.changed``); a
# fresh seeding of Redis changes every version. "settled": neither a writing request of this
# user nor a seeding (which may have lost such a stamp) within the lease, so every write under
# this version has committed, or its request moves the version again before it answers (see
# ``ReadCache``). The stamps have no TTL: ``volatile-ttl`` never evicts them.
GUARD_LUA = (
    NOW_MS
    + """
local check_token = ARGV[1] == '1'
local nlimits = #KEYS
if check_token then nlimits = nlimits - 6 end
local lease = tonumber(ARGV[4])
local revoked = 0
local version = ''
local seeded = ''
local settled = 0
if check_token then
  seeded = redis.call('GET', KEYS[nlimits + 4])
  if not seeded then return {0, 0, 1, '', 0} end
  local jti = redis.call('EXISTS', KEYS[nlimits + 1], KEYS[nlimits + 2])
  local nbf = tonumber(redis.call('GET', KEYS[nlimits + 3]) or '0')
  if jti > 0 or tonumber(ARGV[2]) < nbf then revoked = 1 end
  version = seeded .. ':' .. (redis.call('GET', KEYS[nlimits + 5]) or '0')
  local wrote = tonumber(redis.call('GET', KEYS[nlimits + 6]) or '0')
  local since = tonumber(string.match(seeded, '@(%d+)$') or '0')
  if now - wrote > lease and now - since > lease then settled = 1 end
end
local wait = 0
local tats = {}
for i = 1, nlimits do
  local interval = tonumber(ARGV[2 * i + 3])
  local tolerance = tonumber(ARGV[2 * i + 4])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local over = tat - now - tolerance
  if over > wait then wait = over end
  tats[i] = tat + interval
end
if wait == 0 and revoked == 0 then
  for i = 1, nlimits do
    redis.call('SET', KEYS[i], tats[i], 'PX', math.max(1, tats[i] - now))
  end
  if check_token and ARGV[3] == '1' then
    version = seeded .. ':' .. redis.call('INCR', KEYS[nlimits + 5])
    redis.call('SET', KEYS[nlimits + 6], now)
    settled = 0
  end
end
return {wait, revoked, 0, version, settled}
"""
)
# Marks Redis seeded with a fresh token and the time ("<token>@<ms>"), which starts a lease
# for every user: a write stamp the loss of Redis' data took may be recent. ARGV[2] == "xx":
# only if Redis is seeded already (``reset_versions``); returns 1 if set.
SEED_LUA = (
    NOW_MS
    + """
if ARGV[2] == 'xx' and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1] .. '@' .. now)
return 1
"""
)
SEEDED = f"{PREFIX}revocations-seeded"  # set once the revocations are in Redis
CHANGED_RETRY = 0.2  # seconds between retries of a data-version increment Redis refused
# A writing request's lease (seconds): its user's note pages are read but not kept until it ends.
# A write that takes longer than half of it, from its guard to its answer, moves the version
# again before it answers (``Cache.changed``): its commit may have come after the lease.
WRITE_LEASE = 2.0
SLOW_WRITE = WRITE_LEASE / 2
LEASE_MS = round(WRITE_LEASE * 1000)
# A revocation outlives the access tokens it stops by this margin (clock skew).
REVOCATION_MARGIN = 60


def jti_key(jti: str) -> str:
    return f"{PREFIX}deny:jti:{jti}"


def sid_key(sid: str) -> str:
    return f"{PREFIX}deny:sid:{sid}"


def nbf_key(user_id: int) -> str:
    return f"{PREFIX}nbf:{user_id}"


def wrote_key(user_id: int) -> str:
    """When the user's last writing request passed its guard (Redis' clock, ms; no TTL)."""
    return f"{PREFIX}wrote:{user_id}"


def version_key(user_id: int) -> str:
    """The version of the user's data: no TTL (``volatile-ttl`` never evicts it)."""
    return f"{PREFIX}ver:{user_id}"


@dataclass(frozen=True, slots=True)
class Guard:
    """What ``Cache.check`` read: seconds to wait (0: allowed), whether the access token is
    revoked, the version of its user's data ("" without a token) and whether that version is
    settled (no writing request of the user within ``WRITE_LEASE``)."""

    wait: int
    revoked: bool
    version: str = ""
    settled: bool = False


NO_GUARD = Guard(0, False)  # a request that read no data version


@dataclass(frozen=True, slots=True)
class Limit:
    key: str
    rate: RateLimit

    def args(self) -> tuple[int, int]:
        interval = max(1, round(self.rate.period * 1000 / self.rate.limit))
        return interval, interval * (self.rate.limit - 1)


def limit_key(kind: str, subject: str) -> str:
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
    return f"{PREFIX}rl:{kind}:{digest}"


def unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "A required service (Redis) is unavailable; try again shortly.", code="redis_unavailable"
    )


class Unseeded(Exception):
    """Redis holds no revocations (it lost its data): they must be copied back first."""


class Cache:
    def __init__(self, client: aioredis.Redis, *, versions: bool = True) -> None:
        self.client = client
        self.versions = versions  # False: no ReadCache reads them, so writes skip ``changed``
        self._guard = client.register_script(GUARD_LUA)
        self._seed = client.register_script(SEED_LUA)
        self._pending: set[int] = set()  # users whose version increment failed
        self._retry: asyncio.Task[None] | None = None

    async def check(
        self, limits: Sequence[Limit], access: AccessClaims | None = None, *, write: bool = False
    ) -> Guard:
        """One round trip: charge the rate limits, read the revocation state and the version
        of the token's user's data; ``write``: the request may write the user's data, so an
        allowed one moves the version first and starts its lease.

        Raises ServiceUnavailable when Redis does not answer (both checks fail closed), and
        Unseeded when Redis lost the revocations (``Sessions`` copies them back).
        """
        keys = [lim.key for lim in limits]
        args: list[int | str] = ["0", 0, "0", LEASE_MS]
        if access is not None:
            keys += [
                jti_key(access.jti),
                sid_key(access.sid),
                nbf_key(access.user_id),
                SEEDED,
                version_key(access.user_id),
                wrote_key(access.user_id),
            ]
            args = ["1", access.issued_at, "1" if write and self.versions else "0", LEASE_MS]
        for lim in limits:
            args.extend(lim.args())
        try:
            wait_ms, revoked, unseeded, version, settled = await self._guard(keys=keys, args=args)
        except RedisError:
            raise unavailable() from None
        if int(unseeded):
            raise Unseeded()
        return Guard(
            math.ceil(int(wait_ms) / 1000) if int(wait_ms) else 0,
            bool(int(revoked)),
            version.decode() if isinstance(version, bytes) else version,
            bool(int(settled)),
        )

    async def changed(self, user_id: int) -> None:
        """The user's row changed (call it after the commit): every worker's cached reads of
        it stop matching on its next request, whose guard reads the new version.

        When Redis does not answer, the increment is retried in the background until it
        does: while Redis is down no authenticated request gets past the guard, so none can
        be answered from a stale entry; once it is back, the retry lands within
        ``CHANGED_RETRY`` seconds.
        """
        if not self.versions:
            return
        try:
            await self.client.incr(version_key(user_id))
        except RedisError:
            self._pending.add(user_id)
            if self._retry is None or self._retry.done():
                self._retry = asyncio.get_running_loop().create_task(self._retry_changed())

    async def _retry_changed(self) -> None:
        while self._pending:
            await asyncio.sleep(CHANGED_RETRY)
            for user_id in list(self._pending):
                try:
                    await self.client.incr(version_key(user_id))
                except RedisError:
                    break
                self._pending.discard(user_id)

    async def deny_token(self, access: AccessClaims, now: int) -> None:
        ttl = access.expires_at - now + REVOCATION_MARGIN
        if ttl > 0:
            await self._set(jti_key(access.jti), "1", ttl)

    async def deny_sessions(self, sids: Sequence[str], ttl: int) -> None:
        if sids:
            await self._revoke(sids, (), ttl)

    async def set_not_before(self, user_id: int, cutoff: int, ttl: int) -> None:
        await self._revoke((), [(user_id, cutoff)], ttl)

    async def seed(self, sids: Sequence[str], cutoffs: Sequence[tuple[int, int]], ttl: int) -> None:
        """Put the revocations PostgreSQL holds back into Redis, then mark it seeded."""
        await self._revoke(sids, cutoffs, ttl, seeded=True)

    async def _revoke(
        self,
        sids: Sequence[str],
        cutoffs: Sequence[tuple[int, int]],
        ttl: int,
        *,
        seeded: bool = False,
    ) -> None:
        """Deny sessions and set per-user cutoffs for ``ttl`` (an access token's life)."""
        ex = ttl + REVOCATION_MARGIN
        try:
            async with self.client.pipeline(transaction=seeded) as pipe:
                for sid in sids:
                    pipe.set(sid_key(sid), "1", ex=ex)
                for user_id, cutoff in cutoffs:
                    pipe.set(nbf_key(user_id), str(cutoff), ex=ex)
                if seeded:  # a fresh token: data versions read before the loss never match
                    await self._seed(keys=[SEEDED], args=[secrets.token_hex(8), ""], client=pipe)
                await pipe.execute()
        except RedisError:
            raise unavailable() from None

    async def ping(self) -> None:
        await self.client.ping()

    async def _set(self, key: str, value: str, ttl: int) -> None:
        try:
            await self.client.set(key, value, ex=ttl)
        except RedisError:
            raise unavailable() from None


def changed_sync(redis_url: str, user_id: int) -> None:
    """``Cache.changed`` for the command line (which writes without the app)."""
    import redis

    with redis.Redis.from_url(redis_url, socket_timeout=2.0) as client:
        client.incr(version_key(user_id))


def reset_versions(redis_url: str) -> bool:
    """Give every data version a fresh prefix, so that no worker answers from a cached read
    made before (after a hand edit in ``psql``). Only while Redis is seeded: an unseeded
    Redis is reseeded, prefix included, by the next authenticated request. True if reset."""
    import redis

    with redis.Redis.from_url(redis_url, socket_timeout=2.0) as client:
        seed = client.register_script(SEED_LUA)
        return bool(seed(keys=[SEEDED], args=[secrets.token_hex(8), "xx"]))
