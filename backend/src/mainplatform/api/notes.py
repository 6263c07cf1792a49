"""``/api/notes``: the example owner-scoped resource."""

from __future__ import annotations

from mainplatform import schemas
from mainplatform.api.common import path_id
from mainplatform.api.operations import Call, Page, operation


@operation(
    "GET",
    "/api/notes",
    "The user's notes, newest first",
    tag="notes",
    auth="user",
    page=Page(20),
    response=schemas.NotePage,
)
async def list_notes(call: Call[None]) -> schemas.NotePageRaw:
    user, page = call.user.user_id, call.page
    return await call.platform.notes.list(user, page.limit, page.cursor, call.guard)


@operation("POST", "/api/notes", "Create a note", tag="notes", status=201, auth="user")
async def create_note(call: Call[schemas.NoteCreate]) -> schemas.Note:
    note = await call.platform.notes.create(call.user.user_id, call.body)
    call.headers["Location"] = f"/api/notes/{note.id}"
    return note


@operation("GET", "/api/notes/{id:id}", "One note", tag="notes", auth="user")
async def get_note(call: Call[None]) -> schemas.Note:
    return await call.platform.notes.get(call.user.user_id, path_id(call.request))


@operation("PATCH", "/api/notes/{id:id}", "Change a note", tag="notes", auth="user")
async def update_note(call: Call[schemas.NoteUpdate]) -> schemas.Note:
    return await call.platform.notes.update(call.user.user_id, path_id(call.request), call.body)


@operation("DELETE", "/api/notes/{id:id}", "Delete a note", tag="notes", status=204, auth="user")
async def delete_note(call: Call[None]) -> None:
    await call.platform.notes.delete(call.user.user_id, path_id(call.request))
