"""Single-use account tokens: password reset and e-mail verification links.

A token is 32 random bytes; only its SHA-256 is stored, with its purpose, its account,
the address it was sent to and its expiry. Using one is a single ``UPDATE ... WHERE
used_at IS NULL AND expires_at > now() RETURNING``: of any number of concurrent uses,
exactly one gets the row back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from psycopg import AsyncConnection
from psycopg.rows import DictRow

from mainplatform.db import typed
from mainplatform.errors import BadRequest
from mainplatform.security.tokens import hash_token, new_account_token

Purpose = Literal["reset_password", "verify_email"]
MAX_TOKEN_CHARS = 128

INVALID = {
    "reset_password": "This password-reset link is invalid, expired or already used. "
    "Ask for a new one.",
    "verify_email": "This verification link is invalid, expired or already used. "
    "Ask for a new one.",
}


def invalid(purpose: Purpose) -> BadRequest:
    return BadRequest(INVALID[purpose], code="link_invalid")


@dataclass(frozen=True, slots=True)
class TokenRow:
    """What a used token tells: whose it is and which address it was sent to."""

    id: int
    user_id: int
    email: str


async def mint(
    conn: AsyncConnection[DictRow], purpose: Purpose, user_id: int, email: str, ttl: int
) -> str:
    """A new token for this account and address, valid for ``ttl`` seconds."""
    token = new_account_token()
    await conn.execute(
        "INSERT INTO account_tokens (token_hash, purpose, user_id, email, expires_at)"
        " VALUES (%s, %s, %s, %s, now() + %s)",
        (hash_token(token), purpose, user_id, email, timedelta(seconds=ttl)),
    )
    return token


# A token that can be used now: this hash and purpose, unused, unexpired.
_USABLE = "token_hash = %s AND purpose = %s AND used_at IS NULL AND expires_at > now()"


async def peek(conn: AsyncConnection[DictRow], purpose: Purpose, token: str) -> TokenRow | None:
    """The token's row if it could be used now (nothing changes)."""
    if not 0 < len(token) <= MAX_TOKEN_CHARS:
        return None
    cur = typed(conn, TokenRow)
    await cur.execute(
        f"SELECT id, user_id, email FROM account_tokens WHERE {_USABLE}",
        (hash_token(token), purpose),
    )
    return await cur.fetchone()


async def use(conn: AsyncConnection[DictRow], purpose: Purpose, token: str) -> TokenRow | None:
    """Mark the token used, atomically: its row the first time, None ever after (and for a
    token that is unknown, expired, or of another purpose)."""
    if not 0 < len(token) <= MAX_TOKEN_CHARS:
        return None
    cur = typed(conn, TokenRow)
    await cur.execute(
        f"UPDATE account_tokens SET used_at = now() WHERE {_USABLE} RETURNING id, user_id, email",
        (hash_token(token), purpose),
    )
    return await cur.fetchone()


async def revoke(
    conn: AsyncConnection[DictRow], user_id: int, purpose: Purpose, *, keep: int | None = None
) -> None:
    """Delete the account's tokens of this purpose (a password or address changed)."""
    await conn.execute(
        "DELETE FROM account_tokens WHERE user_id = %s AND purpose = %s AND id IS DISTINCT FROM %s",
        (user_id, purpose, keep),
    )


async def delete(conn: AsyncConnection[DictRow], token: str) -> None:
    """Forget a token whose mail could not be sent (nobody holds it)."""
    await conn.execute("DELETE FROM account_tokens WHERE token_hash = %s", (hash_token(token),))


async def purge(conn: AsyncConnection[DictRow]) -> None:
    await conn.execute("DELETE FROM account_tokens WHERE expires_at < now()")
