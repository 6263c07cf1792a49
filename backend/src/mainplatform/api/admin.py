"""``/api/admin``: user management for the admin role."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from mainplatform import schemas
from mainplatform.api.common import authenticated, body, json, page_params, path_id, platform
from mainplatform.security.tokens import AccessClaims


async def _admin(request: Request) -> AccessClaims:
    claims = await authenticated(request)
    await platform(request).users.require_admin(claims.user_id)
    return claims


async def list_users(request: Request) -> Response:
    await _admin(request)
    limit, cursor = page_params(request, default=50)
    return json(await platform(request).users.list(limit, cursor))


async def update_user(request: Request) -> Response:
    claims = await _admin(request)
    data = await body(request, schemas.AdminUserUpdate)
    user = await platform(request).users.admin_update(claims.user_id, path_id(request), data)
    return json(user)
