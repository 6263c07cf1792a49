"""The signed-in user's own account, and the admin's view of all accounts."""

from __future__ import annotations

from msgspec import UNSET
from psycopg import errors

from mainplatform import schemas
from mainplatform.db import Database, typed
from mainplatform.errors import Conflict, Forbidden, NotFound, account_gone
from mainplatform.paging import USERS
from mainplatform.readcache import ReadCache
from mainplatform.security.client import Client
from mainplatform.services import account_tokens
from mainplatform.services.accounts import (
    USER_COLUMNS,
    Accounts,
    email_problem,
    normalize_email,
)
from mainplatform.services.mail import Mail
from mainplatform.services.sessions import Sessions

SELECT_USER = f"SELECT {USER_COLUMNS} FROM users WHERE id = %s"


class UsersService:
    def __init__(
        self,
        db: Database,
        accounts: Accounts,
        sessions: Sessions,
        mail: Mail,
        reads: ReadCache[int, schemas.User],
    ) -> None:
        self.mail = mail
        self.reads = reads
        self.db = db
        self.accounts = accounts
        self.sessions = sessions

    async def me(self, user_id: int, version: str) -> schemas.User:
        """The caller's own account (401 when a still-valid token outlived it), from this
        worker's ``ReadCache`` when nothing changed since (``version``: the guard's)."""
        cached = self.reads.get(user_id, version)
        if cached is not None:
            return cached
        async with self.db.connection() as conn:
            row = await (
                await typed(conn, schemas.User).execute(SELECT_USER, (user_id,))
            ).fetchone()
        if row is None:
            raise account_gone()
        self.reads.put(user_id, version, row)
        return row

    async def update_me(
        self, user_id: int, data: schemas.ProfileUpdate, client: Client
    ) -> schemas.User:
        """A new address starts unverified: a verification link goes to it, a notice to
        the old one, and the links sent to the old one stop working."""
        email = None
        if data.email is not UNSET:
            email = normalize_email(data.email)
            if problem := email_problem(email):
                raise schemas.field_error("email", problem)
            if data.current_password is UNSET:
                raise schemas.field_error(
                    "current_password", "Give your current password to change your e-mail address."
                )
            if not await self.accounts.verify_password(user_id, data.current_password):
                raise schemas.field_error("current_password", "The current password is wrong.")
        name = None if data.display_name is UNSET else data.display_name.strip()
        try:
            async with self.db.transaction() as conn:
                cur = await conn.execute(
                    "SELECT email FROM users WHERE id = %s FOR UPDATE", (user_id,)
                )
                old = await cur.fetchone()
                changed = (
                    old is not None and email is not None and email.lower() != old["email"].lower()
                )
                row = await (
                    await typed(conn, schemas.User).execute(
                        "UPDATE users SET email = coalesce(%s, email),"
                        " display_name = coalesce(%s, display_name), updated_at = now(),"
                        " email_verified_at = CASE WHEN %s THEN NULL ELSE email_verified_at END"
                        f" WHERE id = %s RETURNING {USER_COLUMNS}",
                        (email, name, changed, user_id),
                    )
                ).fetchone()
                if changed and old is not None and row is not None:
                    await account_tokens.revoke(conn, user_id, "verify_email")
                    await account_tokens.revoke(conn, user_id, "reset_password")
                    await self.mail.enqueue(conn, "verify_email", row.email, user_id=user_id)
                    await self.mail.enqueue(
                        conn,
                        "email_changed",
                        old["email"],
                        user_id=user_id,
                        params={**client.params(), "new_email": row.email},
                    )
        except errors.UniqueViolation:
            raise Conflict(
                "An account with this e-mail address already exists.", code="email_taken"
            ) from None
        if row is None:
            raise account_gone()
        await self.sessions.cache.changed(user_id)
        return row

    async def require_admin(self, user_id: int) -> None:
        """Roles are read from the database on every admin call, so a demotion is immediate."""
        async with self.db.connection() as conn:
            cur = typed(conn, schemas.User)
            row = await (await cur.execute(SELECT_USER, (user_id,))).fetchone()
        if row is None or row.disabled or row.role != "admin":
            raise Forbidden("This needs the admin role.")

    async def list(self, limit: int, cursor: str | None) -> schemas.UserPage:
        after = USERS.decode(cursor) if cursor else None
        async with self.db.connection() as conn:
            rows = await (
                await typed(conn, schemas.User).execute(
                    f"SELECT {USER_COLUMNS} FROM users"
                    " WHERE (%s::bigint IS NULL OR id > %s::bigint) ORDER BY id LIMIT %s",
                    (after, after, limit + 1),
                )
            ).fetchall()
        items = rows[:limit]
        return schemas.UserPage(
            items=items, next_cursor=USERS.encode(items[-1].id) if len(rows) > limit else None
        )

    async def admin_update(
        self, admin_id: int, user_id: int, data: schemas.AdminUserUpdate
    ) -> schemas.User:
        if user_id == admin_id and (data.role == "user" or data.disabled is True):
            raise Conflict(
                "You cannot demote or disable your own account.", code="cannot_change_self"
            )
        role = None if data.role is UNSET else data.role
        disabled = None if data.disabled is UNSET else data.disabled
        sids: list[str] = []
        async with self.db.transaction() as conn:
            row = await (
                await typed(conn, schemas.User).execute(
                    "UPDATE users SET role = coalesce(%s, role), disabled = coalesce(%s, disabled),"
                    " tokens_valid_after = CASE WHEN %s THEN now() ELSE tokens_valid_after END,"
                    f" updated_at = now() WHERE id = %s RETURNING {USER_COLUMNS}",
                    (role, disabled, disabled is True, user_id),
                )
            ).fetchone()
            if row is None:
                raise NotFound("No such user.")
            if disabled:
                sids = await self.sessions.end_all(conn, user_id, "disabled")
        await self.sessions.cache.changed(user_id)
        if disabled:
            await self.sessions.cut_off(user_id, sids)
        return row
