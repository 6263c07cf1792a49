"""``/api/admin``: user management for the admin role."""

from __future__ import annotations

from mainplatform import schemas
from mainplatform.api.common import path_id
from mainplatform.api.operations import Call, Page, operation


@operation(
    "GET", "/api/admin/users", "List users (admin)", tag="admin", auth="admin", page=Page(50)
)
async def list_users(call: Call[None]) -> schemas.UserPage:
    return await call.platform.users.list(call.page.limit, call.page.cursor)


@operation(
    "PATCH", "/api/admin/users/{id:id}", "Change role or disable (admin)", tag="admin", auth="admin"
)
async def update_user(call: Call[schemas.AdminUserUpdate]) -> schemas.User:
    return await call.platform.users.admin_update(
        call.user.user_id, path_id(call.request), call.body
    )
