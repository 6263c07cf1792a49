"""A worker's cache of users' reads of their own data (``/users/me``, note pages), checked on
every request.

Each entry carries the data version the request's guard read from Redis (``Cache.check``,
the round trip every authenticated request already makes). A read is answered from here only
when its entry was stored under the version Redis holds now. So an entry never outlives a
write made through the application, in any worker, by even one request:

- A write to a user's row moves their version after its commit (``Cache.changed``).
- A signed-in request that may write (any method but GET) moves its user's version in its
  guard, before it writes, and starts a write lease (``cache.WRITE_LEASE``, Redis' clock).
  Its commit may land after a concurrent read has read PostgreSQL under the new version, so
  reads that need no row-level ``changed`` (note pages) are stored only when the guard found
  the version *settled*: no writing request of that user started within the lease. A write
  that takes more than half the lease (``cache.SLOW_WRITE``, measured by the writing worker
  from before its guard to its answer) moves the version again before it answers.
- A fresh seeding of Redis changes every version, and starts a lease for every user: the
  loss may have taken the stamp of a write still in flight.

The guard itself (revocation, rate limits) runs first, whatever is cached. What the lease
assumes, that Redis' clock does not jump forward by half a lease while a write is in flight,
and a worker that dies between a slow commit and its answer, are bounded by ``ttl``: no
entry is answered from after that many seconds. Writes made outside the application (``psql``
by hand) do not move a version either: they show within ``ttl``, or at once after
``mainplatform cache-reset``, which reseeds the version prefix.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

TTL = 60.0  # seconds an entry may answer for, whatever the versions say


class ReadCache(Generic[K, V]):
    """Values by key (a user id, or a user's page), each under the data version it was read
    at: at most ``capacity`` of them, least recently used out first; ``capacity == 0`` turns
    it off."""

    def __init__(self, capacity: int, ttl: float = TTL) -> None:
        self.capacity = capacity
        self.ttl = ttl
        self._entries: dict[K, tuple[str, float, V]] = {}

    def get(self, key: K, version: str) -> V | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] != version or not version:
            return None
        del self._entries[key]
        if entry[1] < time.monotonic():
            return None
        self._entries[key] = entry  # most recently used goes last
        return entry[2]

    def put(self, key: K, version: str, value: V) -> None:
        if not version or not self.capacity:
            return
        self._entries.pop(key, None)
        self._entries[key] = (version, time.monotonic() + self.ttl, value)
        if len(self._entries) > self.capacity:
            del self._entries[next(iter(self._entries))]

    def __len__(self) -> int:
        return len(self._entries)
