"""A worker's cache of users' reads of their own account (``/users/me``), checked on every
request.

Each entry carries the data version the request's guard read from Redis (``Cache.check``,
the round trip every authenticated request already makes). A read is answered from here only
when its entry was stored under the version Redis holds now; ``Cache.changed`` moves a user's
version after any write to their row, and a fresh seeding of Redis changes every
version. So an entry never outlives a write made through the application, in any worker,
by even one request: the next request's guard reads the new version and the read goes to
PostgreSQL again. The guard itself (revocation, rate limits) runs first, whatever is cached.

Writes made outside the application (``psql`` by hand) do not move a version: after one,
run ``mainplatform cache-reset``, which reseeds the version prefix.
"""

from __future__ import annotations

from typing import Generic, TypeVar

V = TypeVar("V")


class ReadCache(Generic[V]):
    """Values by user id, each under the data version it was read at: at most ``capacity``
    of them, least recently used out first; ``capacity == 0`` turns it off."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: dict[int, tuple[str, V]] = {}

    def get(self, user_id: int, version: str) -> V | None:
        entry = self._entries.get(user_id)
        if entry is None or entry[0] != version or not version:
            return None
        del self._entries[user_id]  # most recently used goes last
        self._entries[user_id] = entry
        return entry[1]

    def put(self, user_id: int, version: str, value: V) -> None:
        if not version or not self.capacity:
            return
        self._entries.pop(user_id, None)
        self._entries[user_id] = (version, value)
        if len(self._entries) > self.capacity:
            del self._entries[next(iter(self._entries))]

    def __len__(self) -> int:
        return len(self._entries)
