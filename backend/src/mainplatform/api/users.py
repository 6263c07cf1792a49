"""``/api/users/me``: the signed-in user's own account."""

from __future__ import annotations

from mainplatform import schemas
from mainplatform.api.common import client
from mainplatform.api.operations import Call, operation


@operation("GET", "/api/users/me", "The signed-in user", tag="users", auth="user")
async def me(call: Call[None]) -> schemas.User:
    return await call.platform.users.me(call.user.user_id, call.guard.version)


@operation("PATCH", "/api/users/me", "Change display name or e-mail", tag="users", auth="user")
async def update_me(call: Call[schemas.ProfileUpdate]) -> schemas.User:
    return await call.platform.users.update_me(call.user.user_id, call.body, client(call.request))


@operation(
    "POST",
    "/api/users/me/password",
    "Change password; ends other sessions",
    tag="users",
    status=204,
    auth="user",
)
async def change_password(call: Call[schemas.PasswordChange]) -> None:
    await call.platform.accounts.change_password(
        call.user, call.body.current_password, call.body.new_password, client(call.request)
    )
