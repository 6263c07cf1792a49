"""Sign-in through an OpenID Connect provider: find, link or create the local account."""

from __future__ import annotations

from typing import Any

from mainplatform.cache import Cache
from mainplatform.db import Database, typed
from mainplatform.errors import Forbidden
from mainplatform.services.accounts import StatusRow, email_problem, normalize_email


class OIDCAccounts:
    def __init__(self, db: Database, cache: Cache, issuer: str) -> None:
        self.db = db
        self.cache = cache
        self.issuer = issuer

    async def resolve(self, claims: dict[str, Any]) -> int:
        """The local user for verified ID-token claims.

        A known (issuer, subject) signs in as its user. Otherwise a *verified* e-mail address
        links to the account that has it, or creates a new account without a password.
        """
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise Forbidden("The identity provider sent no subject.", code="oidc_failed")
        async with self.db.transaction() as conn:
            row = await (
                await typed(conn, StatusRow).execute(
                    "SELECT u.id, u.disabled FROM user_identities i"
                    " JOIN users u ON u.id = i.user_id WHERE i.issuer = %s AND i.subject = %s",
                    (self.issuer, subject),
                )
            ).fetchone()
            linked = row is None
            if row is None:
                email = claims.get("email")
                if not isinstance(email, str) or claims.get("email_verified") is not True:
                    raise Forbidden(
                        "The identity provider did not confirm an e-mail address.",
                        code="oidc_email_not_verified",
                    )
                email = normalize_email(email)
                if email_problem(email):
                    raise Forbidden(
                        "The identity provider sent an invalid e-mail address.", code="oidc_failed"
                    )
                row = await (
                    await typed(conn, StatusRow).execute(
                        # The provider verified the address: so is the account's.
                        "INSERT INTO users (email, display_name, email_verified_at)"
                        " VALUES (%s, %s, now()) ON CONFLICT (lower(email)) DO UPDATE"
                        " SET email_verified_at = coalesce(users.email_verified_at, now())"
                        " RETURNING id, disabled",
                        (email, str(claims.get("name") or "")[:100]),
                    )
                ).fetchone()
                assert row is not None
                await conn.execute(
                    "INSERT INTO user_identities (issuer, subject, user_id) VALUES (%s, %s, %s)",
                    (self.issuer, subject, row.id),
                )
        if linked:  # the account was created, or verified and linked, just now
            await self.cache.changed(row.id)
        if row.disabled:
            raise Forbidden("This account is disabled.", code="account_disabled")
        return row.id
