"""``/api/notes``: the example owner-scoped resource."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from mainplatform import schemas
from mainplatform.api.common import authenticated, body, json, page_params, path_id, platform


async def list_notes(request: Request) -> Response:
    claims = await authenticated(request)
    limit, cursor = page_params(request)
    return json(await platform(request).notes.list(claims.user_id, limit, cursor))


async def create_note(request: Request) -> Response:
    claims = await authenticated(request)
    data = await body(request, schemas.NoteCreate)
    note = await platform(request).notes.create(claims.user_id, data)
    return json(note, status=201, headers={"Location": f"/api/notes/{note.id}"})


async def get_note(request: Request) -> Response:
    claims = await authenticated(request)
    return json(await platform(request).notes.get(claims.user_id, path_id(request)))


async def update_note(request: Request) -> Response:
    claims = await authenticated(request)
    data = await body(request, schemas.NoteUpdate)
    return json(await platform(request).notes.update(claims.user_id, path_id(request), data))


async def delete_note(request: Request) -> Response:
    claims = await authenticated(request)
    await platform(request).notes.delete(claims.user_id, path_id(request))
    return Response(status_code=204)
