"""``/api/users/me``: the signed-in user's own account."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from mainplatform import schemas
from mainplatform.api.common import authenticated, body, json, platform


async def me(request: Request) -> Response:
    claims = await authenticated(request)
    return json(await platform(request).users.me(claims.user_id))


async def update_me(request: Request) -> Response:
    claims = await authenticated(request)
    data = await body(request, schemas.ProfileUpdate)
    return json(await platform(request).users.update_me(claims.user_id, data))


async def change_password(request: Request) -> Response:
    claims = await authenticated(request)
    data = await body(request, schemas.PasswordChange)
    await platform(request).auth.change_password(claims, data.current_password, data.new_password)
    return Response(status_code=204)
