"""``/api/auth/oidc``: sign in with an OpenID Connect provider (authlib's Starlette client,
in ``oidc_client``, imported only when OIDC is configured).

``login`` redirects to the provider (authorization code flow with PKCE, state and nonce kept
in a short-lived signed cookie); ``callback`` checks the ID token (authlib, with joserfc),
finds or creates the local account, starts a session exactly like a password login (the
refresh cookie) and sends the browser back to the app, which then refreshes as on any load.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mainplatform import schemas
from mainplatform.api.auth import set_refresh_cookie
from mainplatform.api.common import ip, platform
from mainplatform.api.operations import Call, operation
from mainplatform.errors import APIError, NotFound
from mainplatform.platform import Platform
from mainplatform.security import passwords
from mainplatform.services.oidc import OIDCAccounts

log = logging.getLogger("mainplatform.oidc")

CALLBACK_PATH = "/api/auth/oidc/callback"


def _redirect_uri(request: Request) -> str:
    base = platform(request).settings.public_url
    return (base.rstrip("/") if base else str(request.base_url).rstrip("/")) + CALLBACK_PATH


@operation("GET", "/api/auth/providers", "Sign-in methods offered", tag="auth")
async def providers(call: Call[None]) -> schemas.Providers:
    settings = call.platform.settings
    return schemas.Providers(
        oidc=schemas.Provider(enabled=settings.oidc_enabled, name=settings.oidc_name),
        password=schemas.PasswordPolicy(
            min_length=settings.password_min_length, max_length=passwords.MAX_LENGTH
        ),
    )


@operation(
    "GET",
    "/api/auth/oidc/login",
    "Start sign-in with the identity provider (redirect)",
    tag="auth",
    status=302,
)
async def login(call: Call[None]) -> Response:
    request, (p, _) = call.request, await _configured(call)
    from mainplatform.api.oidc_client import PROVIDER_ERRORS  # loaded: OIDC is configured

    try:
        response: Response = await p.oauth.provider.authorize_redirect(
            request, _redirect_uri(request)
        )
    except PROVIDER_ERRORS as exc:
        log.warning("identity provider unreachable: %s", type(exc).__name__)
        return _back(request, "oidc_unavailable")
    return response


@operation(
    "GET",
    "/api/auth/oidc/callback",
    "Finish provider sign-in; sets the refresh cookie (redirect)",
    tag="auth",
    status=303,
)
async def callback(call: Call[None]) -> Response:
    request, (p, accounts) = call.request, await _configured(call)
    from mainplatform.api.oidc_client import PROVIDER_ERRORS  # loaded: OIDC is configured

    try:
        token = await p.oauth.provider.authorize_access_token(request)
    except PROVIDER_ERRORS as exc:
        log.warning("identity provider sign-in failed: %s", type(exc).__name__)
        p.metrics.auth("login_failure")
        return _back(request, "oidc_failed")
    claims = dict(token.get("userinfo") or {})
    try:
        user_id = await accounts.resolve(claims)
    except APIError as exc:
        p.metrics.auth("login_failure")
        return _back(request, exc.code)
    session = await p.sessions.start(user_id)
    p.metrics.auth("login_success")
    request.scope["mainplatform.user_id"] = user_id
    response = RedirectResponse("/", status_code=303)
    set_refresh_cookie(request, response, session)
    return response


async def _configured(call: Call[None]) -> tuple[Platform, OIDCAccounts]:
    """The platform and its OIDC accounts when OIDC is configured (404 otherwise), the
    caller's IP budget charged: what both steps of the sign-in need first."""
    p = call.platform
    if p.oauth is None or p.oidc is None:
        raise NotFound(
            "Sign-in with an identity provider is not configured.", code="oidc_not_configured"
        )
    await p.limits.charge(p.limits.ip(ip(call.request)))
    return p, p.oidc


def _back(request: Request, code: str) -> Response:
    """Back to the app's sign-in view with a machine-readable reason it can explain."""
    return RedirectResponse("/sign-in?" + urlencode({"error": code}), status_code=303)
