"""``/api/auth``: register, login, refresh (rotation), logout, logout-all."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mainplatform import schemas
from mainplatform.api.common import (
    REFRESH_COOKIE,
    REFRESH_COOKIE_PATH,
    authenticated,
    bearer,
    check_origin,
    client,
    json,
    platform,
    require_json_type,
)
from mainplatform.api.operations import Call, operation
from mainplatform.errors import Unauthorized
from mainplatform.security.devices import DEVICE_COOKIE, DEVICE_COOKIE_MAX_AGE
from mainplatform.services.sessions import Session

DEVICE_COOKIE_PATH = "/api/auth/login"  # sent with sign-in attempts only


def _cookie(request: Request) -> dict[str, Any]:
    """The attributes of every cookie the API sets: HttpOnly, SameSite=Strict, Secure
    unless COOKIE_SECURE is off (plain-HTTP local use)."""
    return {
        "secure": platform(request).settings.cookie_secure,
        "httponly": True,
        "samesite": "strict",
    }


def set_refresh_cookie(request: Request, response: Response, session: Session) -> None:
    response.set_cookie(
        REFRESH_COOKIE,
        session.refresh_token,
        max_age=session.refresh_max_age,
        path=REFRESH_COOKIE_PATH,
        **_cookie(request),
    )


def clear_refresh_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, **_cookie(request))


def session_response(request: Request, session: Session, *, include_refresh: bool) -> Response:
    out = schemas.TokenResponse(
        access_token=session.access_token,
        expires_in=session.expires_in,
        refresh_token=session.refresh_token if include_refresh else None,
    )
    response = json(out)
    set_refresh_cookie(request, response, session)
    return response


@operation("POST", "/api/auth/register", "Create an account", tag="auth", status=201)
async def register(call: Call[schemas.Credentials]) -> schemas.User:
    return await call.platform.accounts.register(
        call.body.email, call.body.password, client(call.request)
    )


@operation(
    "POST",
    "/api/auth/login",
    "Sign in; sets the refresh cookie",
    tag="auth",
    response=schemas.TokenResponse,
)
async def login(call: Call[schemas.Credentials]) -> Response:
    request = call.request
    session = await call.platform.accounts.login(
        call.body.email, call.body.password, client(request), request.cookies.get(DEVICE_COOKIE)
    )
    response = session_response(request, session, include_refresh=False)
    if session.device_cookie is not None:
        response.set_cookie(
            DEVICE_COOKIE,
            session.device_cookie,
            max_age=DEVICE_COOKIE_MAX_AGE,
            path=DEVICE_COOKIE_PATH,
            **_cookie(request),
        )
    return response


@operation(
    "POST",
    "/api/auth/refresh",
    "Rotate the refresh token",
    tag="auth",
    auth="session",
    response=schemas.TokenResponse,
)
async def refresh(call: Call[schemas.RefreshRequest | None]) -> Response:
    """Browsers send the HttpOnly cookie; other clients send ``refresh_token`` in the body."""
    request = call.request
    sent = call.body.refresh_token if call.body is not None else None
    from_body = isinstance(sent, str)
    if isinstance(sent, str):
        token = sent
    else:
        require_json_type(request)
        check_origin(request)
        token = request.cookies.get(REFRESH_COOKIE, "")
    if not token:
        raise Unauthorized("No refresh token was sent.", code="invalid_refresh_token")
    try:
        session = await call.platform.sessions.refresh(token, client(request))
    except Unauthorized as exc:
        response = json(exc.body(), status=exc.status, headers=exc.headers)
        clear_refresh_cookie(request, response)
        return response
    request.scope["mainplatform.user_id"] = session.user_id
    return session_response(request, session, include_refresh=from_body)


@operation("POST", "/api/auth/logout", "End this session", tag="auth", status=204, auth="session")
async def logout(call: Call[schemas.RefreshRequest | None]) -> Response:
    request = call.request
    access = (await authenticated(request))[0] if bearer(request) is not None else None
    data = call.body
    token = data.refresh_token if data is not None and isinstance(data.refresh_token, str) else None
    if token is None and REFRESH_COOKIE in request.cookies:
        if access is None:  # only the ambient cookie authenticates this call: CSRF rules apply
            require_json_type(request)
            check_origin(request)
        token = request.cookies[REFRESH_COOKIE]
    if access is None and not token:
        raise Unauthorized("Send the access token or the refresh token to sign out.")
    await call.platform.sessions.logout(access, token)
    response = Response(status_code=204)
    clear_refresh_cookie(request, response)
    return response


@operation(
    "POST",
    "/api/auth/logout-all",
    "End every session of the user",
    tag="auth",
    status=204,
    auth="user",
)
async def logout_all(call: Call[None]) -> Response:
    await call.platform.sessions.logout_all(call.user.user_id)
    response = Response(status_code=204)
    clear_refresh_cookie(call.request, response)
    return response
