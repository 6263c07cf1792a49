"""``/api/auth/password`` and ``/api/auth/email``: password reset and e-mail verification,
each a request that queues a mail (the same answer whether or not an account has the
address) and a step that uses the link's single-use token."""

from __future__ import annotations

from mainplatform import schemas
from mainplatform.api.common import client
from mainplatform.api.operations import Call, operation


@operation(
    "POST",
    "/api/auth/password/forgot",
    "Ask for a password-reset link by mail",
    tag="auth",
    status=202,
)
async def forgot_password(call: Call[schemas.EmailRequest]) -> schemas.Accepted:
    return await call.platform.accounts.request_mail(
        "reset_password", call.body.email, client(call.request)
    )


@operation(
    "POST",
    "/api/auth/password/reset",
    "Set a new password with a reset link's token; ends every session",
    tag="auth",
    status=204,
)
async def reset_password(call: Call[schemas.PasswordReset]) -> None:
    await call.platform.accounts.reset_password(
        call.body.token, call.body.new_password, client(call.request)
    )


@operation(
    "POST",
    "/api/auth/email/verify/request",
    "Ask for a new e-mail verification link",
    tag="auth",
    status=202,
)
async def request_verification(call: Call[schemas.EmailRequest]) -> schemas.Accepted:
    return await call.platform.accounts.request_mail(
        "verify_email", call.body.email, client(call.request)
    )


@operation(
    "POST",
    "/api/auth/email/verify",
    "Verify the e-mail address with a verification link's token",
    tag="auth",
    status=204,
)
async def verify_email(call: Call[schemas.EmailVerification]) -> None:
    await call.platform.accounts.verify_email(call.body.token)
