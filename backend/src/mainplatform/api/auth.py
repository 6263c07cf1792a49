"""``/api/auth``: register, login, refresh (rotation), logout, logout-all."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from mainplatform import schemas
from mainplatform.api.common import (
    REFRESH_COOKIE,
    REFRESH_COOKIE_PATH,
    authenticated,
    bearer,
    body,
    check_origin,
    ip,
    json,
    optional_body,
    platform,
    require_json_type,
)
from mainplatform.errors import Unauthorized
from mainplatform.security.devices import DEVICE_COOKIE, DEVICE_COOKIE_MAX_AGE
from mainplatform.services.auth import Session

DEVICE_COOKIE_PATH = "/api/auth/login"  # sent with sign-in attempts only


def set_refresh_cookie(request: Request, response: Response, session: Session) -> None:
    response.set_cookie(
        REFRESH_COOKIE,
        session.refresh_token,
        max_age=session.refresh_max_age,
        path=REFRESH_COOKIE_PATH,
        secure=platform(request).settings.cookie_secure,
        httponly=True,
        samesite="strict",
    )


def clear_refresh_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        REFRESH_COOKIE,
        path=REFRESH_COOKIE_PATH,
        secure=platform(request).settings.cookie_secure,
        httponly=True,
        samesite="strict",
    )


def session_response(request: Request, session: Session, *, include_refresh: bool) -> Response:
    out = schemas.TokenResponse(
        access_token=session.access_token,
        expires_in=session.expires_in,
        refresh_token=session.refresh_token if include_refresh else None,
    )
    response = json(out)
    set_refresh_cookie(request, response, session)
    return response


async def register(request: Request) -> Response:
    data = await body(request, schemas.Credentials)
    user = await platform(request).auth.register(data.email, data.password, ip(request))
    return json(user, status=201)


async def login(request: Request) -> Response:
    data = await body(request, schemas.Credentials)
    session = await platform(request).auth.login(
        data.email, data.password, ip(request), request.cookies.get(DEVICE_COOKIE)
    )
    response = session_response(request, session, include_refresh=False)
    if session.device_cookie is not None:
        response.set_cookie(
            DEVICE_COOKIE,
            session.device_cookie,
            max_age=DEVICE_COOKIE_MAX_AGE,
            path=DEVICE_COOKIE_PATH,
            secure=platform(request).settings.cookie_secure,
            httponly=True,
            samesite="strict",
        )
    return response


async def refresh(request: Request) -> Response:
    """Browsers send the HttpOnly cookie; other clients send ``refresh_token`` in the body."""
    data = await optional_body(request, schemas.RefreshRequest)
    sent = data.refresh_token if data is not None else None
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
        session = await platform(request).auth.refresh(token, ip(request))
    except Unauthorized as exc:
        response = json(exc.body(), status=exc.status, headers=exc.headers)
        clear_refresh_cookie(request, response)
        return response
    request.scope["mainplatform.user_id"] = session.user_id
    return session_response(request, session, include_refresh=from_body)


async def logout(request: Request) -> Response:
    p = platform(request)
    access = await authenticated(request) if bearer(request) is not None else None
    data = await optional_body(request, schemas.RefreshRequest)
    token = data.refresh_token if data is not None and isinstance(data.refresh_token, str) else None
    if token is None and REFRESH_COOKIE in request.cookies:
        if access is None:  # only the ambient cookie authenticates this call: CSRF rules apply
            require_json_type(request)
            check_origin(request)
        token = request.cookies[REFRESH_COOKIE]
    if access is None and not token:
        raise Unauthorized("Send the access token or the refresh token to sign out.")
    await p.auth.logout(access, token)
    response = Response(status_code=204)
    clear_refresh_cookie(request, response)
    return response


async def logout_all(request: Request) -> Response:
    claims = await authenticated(request)
    await platform(request).auth.logout_all(claims.user_id)
    response = Response(status_code=204)
    clear_refresh_cookie(request, response)
    return response
