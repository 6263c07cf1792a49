"""Redis: rate limits (GCRA, one atomic Lua script) and access-token revocation."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from mainplatform.config import RateLimit
from mainplatform.errors import ServiceUnavailable
from mainplatform.security.tokens import AccessClaims

PREFIX = "mp:"

# Generic cell rate algorithm over several keys at once: a request is allowed only when every
# key allows it, and only then are the keys charged. Time comes from the Redis server so that
# all workers share one clock. Returns 0 when allowed, else the wait in milliseconds.
GCRA_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
local tats = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local tolerance = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local over = tat - now - tolerance
  if over > 0 then
    if over > wait then wait = over end
  end
  tats[i] = tat + interval
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, tats[i], 'PX', math.max(1, tats[i] - now))
end
return 0
"""


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


class Cache:
    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self._gcra = client.register_script(GCRA_LUA)

    async def check(
        self, limits: Sequence[Limit], access: AccessClaims | None = None
    ) -> tuple[int, bool]:
        """One round trip: charge the rate limits and read the revocation state.

        Returns (seconds to wait or 0, whether the access token is revoked). Raises
        ServiceUnavailable when Redis does not answer: both checks fail closed.
        """
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                if limits:
                    args = [a for lim in limits for a in lim.args()]
                    await self._gcra(keys=[lim.key for lim in limits], args=args, client=pipe)
                if access is not None:
                    pipe.mget(
                        f"{PREFIX}deny:jti:{access.jti}",
                        f"{PREFIX}deny:sid:{access.sid}",
                        f"{PREFIX}nbf:{access.user_id}",
                    )
                results = await pipe.execute()
        except RedisError:
            raise unavailable() from None
        wait_ms = int(results[0]) if limits else 0
        revoked = False
        if access is not None:
            jti, sid, nbf = results[-1]
            revoked = bool(jti or sid) or (nbf is not None and access.issued_at < int(nbf))
        return math.ceil(wait_ms / 1000) if wait_ms else 0, revoked

    async def deny_token(self, access: AccessClaims, now: int) -> None:
        ttl = access.expires_at - now + 60
        if ttl > 0:
            await self._set(f"{PREFIX}deny:jti:{access.jti}", "1", ttl)

    async def deny_sessions(self, sids: Sequence[str], ttl: int) -> None:
        if not sids:
            return
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for sid in sids:
                    pipe.set(f"{PREFIX}deny:sid:{sid}", "1", ex=ttl + 60)
                await pipe.execute()
        except RedisError:
            raise unavailable() from None

    async def set_not_before(self, user_id: int, cutoff: int, ttl: int) -> None:
        await self._set(f"{PREFIX}nbf:{user_id}", str(cutoff), ttl + 60)

    async def ping(self) -> None:
        await self.client.ping()

    async def _set(self, key: str, value: str, ttl: int) -> None:
        try:
            await self.client.set(key, value, ex=ttl)
        except RedisError:
            raise unavailable() from None
