"""Notes: the example owner-scoped resource. Another user's note does not exist (404)."""

from __future__ import annotations

import msgspec
from msgspec import UNSET
from psycopg import errors

from mainplatform import schemas
from mainplatform.cache import Guard
from mainplatform.db import Database, typed
from mainplatform.errors import NotFound, account_gone
from mainplatform.paging import NOTES
from mainplatform.readcache import ReadCache

COLUMNS = "id, title, body, created_at, updated_at"
_UTC = """'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'"""
# The cursor is an index condition (coalesce, not "IS NULL OR"): a deep page costs what the
# first does, instead of a scan of every newer note of the owner.
LIST_SQL = f"""
WITH page AS (
    SELECT id, title, body, created_at, updated_at,
           row_number() OVER (ORDER BY id DESC) AS rn
    FROM notes
    WHERE owner_id = %(owner)s AND id < coalesce(%(before)s::bigint, 9223372036854775807)
    ORDER BY id DESC
    LIMIT %(limit)s + 1
)
SELECT coalesce(
           json_agg(json_build_object(
               'id', id, 'title', title, 'body', body,
               'created_at', to_char(created_at AT TIME ZONE 'UTC', {_UTC}),
               'updated_at', to_char(updated_at AT TIME ZONE 'UTC', {_UTC})
           ) ORDER BY id DESC) FILTER (WHERE rn <= %(limit)s),
           '[]'
       )::text AS items,
       coalesce(max(rn) > %(limit)s, false) AS more,
       min(id) FILTER (WHERE rn <= %(limit)s) AS last_id
FROM page
"""


PageKey = tuple[int, int, str | None]  # owner, limit, cursor
PAGE_CACHE_MAX_BYTES = 32 * 1024  # a larger page is not kept (READ_CACHE_PAGES bounds the count)


class NotesService:
    def __init__(self, db: Database, pages: ReadCache[PageKey, schemas.NotePageRaw]) -> None:
        self.db = db
        self.pages = pages

    async def list(
        self, owner: int, limit: int, cursor: str | None, guard: Guard
    ) -> schemas.NotePageRaw:
        """One page, newest first. PostgreSQL renders the items as JSON (the hot path: no
        per-row Python objects); ``tests`` check the output against ``schemas.NotePage``.

        Answered from the worker's ``ReadCache`` when the owner's data version is the one
        the page was read under; a page read is kept only when that version is settled (no
        note write of the owner may still be committing: ``readcache``). Note writes cost
        nothing more: their guard moves the version."""
        key = (owner, limit, cursor)
        cached = self.pages.get(key, guard.version)
        if cached is not None:
            return cached
        before = NOTES.decode(cursor) if cursor else None
        async with self.db.connection() as conn:
            cur = await conn.execute(LIST_SQL, {"owner": owner, "before": before, "limit": limit})
            row = await cur.fetchone()
        assert row is not None
        items = row["items"].encode()
        page = schemas.NotePageRaw(
            items=msgspec.Raw(items),
            next_cursor=NOTES.encode(row["last_id"]) if row["more"] else None,
        )
        if guard.settled and len(items) <= PAGE_CACHE_MAX_BYTES:
            self.pages.put(key, guard.version, page)
        return page

    async def create(self, owner: int, data: schemas.NoteCreate) -> schemas.Note:
        try:
            async with self.db.connection() as conn:
                cur = typed(conn, schemas.Note)
                await cur.execute(
                    f"INSERT INTO notes (owner_id, title, body) VALUES (%s, %s, %s)"
                    f" RETURNING {COLUMNS}",
                    (owner, data.title, data.body),
                )
                row = await cur.fetchone()
        except errors.ForeignKeyViolation:  # the token outlived its account
            raise account_gone() from None
        assert row is not None
        return row

    async def get(self, owner: int, note_id: int) -> schemas.Note:
        async with self.db.connection() as conn:
            cur = typed(conn, schemas.Note)
            await cur.execute(
                f"SELECT {COLUMNS} FROM notes WHERE id = %s AND owner_id = %s",
                (note_id, owner),
            )
            row = await cur.fetchone()
        if row is None:
            raise NotFound("No such note.")
        return row

    async def update(self, owner: int, note_id: int, data: schemas.NoteUpdate) -> schemas.Note:
        title = None if data.title is UNSET else data.title
        body = None if data.body is UNSET else data.body
        async with self.db.connection() as conn:
            cur = typed(conn, schemas.Note)
            await cur.execute(
                "UPDATE notes SET title = coalesce(%s, title), body = coalesce(%s, body),"
                f" updated_at = now() WHERE id = %s AND owner_id = %s RETURNING {COLUMNS}",
                (title, body, note_id, owner),
            )
            row = await cur.fetchone()
        if row is None:
            raise NotFound("No such note.")
        return row

    async def delete(self, owner: int, note_id: int) -> None:
        async with self.db.connection() as conn:
            cur = await conn.execute(
                "DELETE FROM notes WHERE id = %s AND owner_id = %s", (note_id, owner)
            )
        if cur.rowcount == 0:
            raise NotFound("No such note.")
