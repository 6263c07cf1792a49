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

from collections.abc import Hashable


class ReadCache:
    """At most ``max_bytes`` (by the sizes callers declare), least recently used out first;
    ``max_bytes == 0`` turns it off."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: dict[Hashable, tuple[str, object, int]] = {}
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, version: str) -> object | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] != version or not version:
            self.misses += 1
            return None
        self.hits += 1
        del self._entries[key]  # most recently used goes last
        self._entries[key] = entry
        return entry[1]

    def put(self, key: Hashable, version: str, value: object, size: int) -> None:
        if not version or size > self.max_bytes // 4:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old[2]
        self._entries[key] = (version, value, size)
        self._bytes += size
        while self._bytes > self.max_bytes:
            oldest = next(iter(self._entries))
            self._bytes -= self._entries.pop(oldest)[2]

    def __len__(self) -> int:
        return len(self._entries)
