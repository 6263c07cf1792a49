"""Password policy (NIST SP 800-63B-4) and Argon2id hashing off the event loop."""

from __future__ import annotations

import unicodedata
from functools import cache
from importlib import resources
from itertools import pairwise

import anyio
import argon2
from argon2.exceptions import InvalidHashError, VerificationError

MAX_LENGTH = 256
# OWASP Password Storage Cheat Sheet, Argon2id: m=19 MiB, t=2, p=1 is the minimum.
TIME_COST = 2
MEMORY_COST_KIB = 19 * 1024
PARALLELISM = 1


def normalize(password: str) -> str:
    """NFKC, as SP 800-63B asks before hashing, so one password has one byte form."""
    return unicodedata.normalize("NFKC", password)


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("mainplatform.data").joinpath("common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def policy_violation(password: str, *, min_length: int, email: str | None = None) -> str | None:
    """The reason a password is refused, or None. No composition rules, by design."""
    pw = normalize(password)
    length = len(pw)
    if length < min_length:
        return f"Use at least {min_length} characters (this one has {length})."
    if length > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    lowered = pw.lower()
    if lowered in common_passwords():
        return "This password is on a list of commonly used passwords; choose another."
    if len(set(lowered)) <= 2:
        return "This password repeats one or two characters; choose another."
    if _is_sequence(lowered):
        return "This password is a simple sequence; choose another."
    if email:
        address = email.strip().lower()
        local = address.split("@", 1)[0]
        if lowered == address or (len(local) >= 4 and lowered.replace(local, "") == ""):
            return "This password is your e-mail address; choose another."
    return None


def _is_sequence(pw: str) -> bool:
    steps = {ord(b) - ord(a) for a, b in pairwise(pw)}
    return len(steps) == 1 and steps <= {1, -1}


class PasswordHasher:
    """Argon2id with a bounded number of concurrent hashes per worker process."""

    def __init__(self, concurrency: int = 1, *, memory_cost: int = MEMORY_COST_KIB) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=TIME_COST,
            memory_cost=memory_cost,
            parallelism=PARALLELISM,
            type=argon2.Type.ID,
        )
        self._limiter = anyio.CapacityLimiter(concurrency)
        self._dummy = self._hasher.hash("dummy password for timing equalisation")

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(
            self._hasher.hash, normalize(password), limiter=self._limiter
        )

    async def verify(self, stored: str | None, password: str) -> bool:
        """Constant work whether or not the account exists (``stored`` None: dummy verify)."""
        target = stored or self._dummy
        ok = await anyio.to_thread.run_sync(self._check, target, password, limiter=self._limiter)
        return ok and stored is not None

    def _check(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, normalize(password))
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True
