"""What every route shares: the platform services, JSON in and out, identity and paging."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from mainplatform import schemas
from mainplatform.cache import Guard
from mainplatform.errors import (
    BadRequest,
    Forbidden,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from mainplatform.platform import Platform
from mainplatform.security.client import Client, client_ip
from mainplatform.security.tokens import AccessClaims

T = TypeVar("T", bound=msgspec.Struct)
Endpoint = Callable[[Request], Awaitable[Response]]

REFRESH_COOKIE = "mp_refresh"
REFRESH_COOKIE_PATH = "/api/auth"


def platform(request: Request) -> Platform:
    p: Platform = request.app.state.platform
    return p


_encoder = msgspec.json.Encoder()


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encoder.encode(content)


def json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSON:
    return JSON(content, status_code=status, headers=headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 once it passes ``limit`` bytes (chunked bodies too)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def require_json_type(request: Request) -> None:
    ctype = request.headers.get("content-type", "")
    if ctype.split(";", 1)[0].strip().lower() != "application/json":
        raise UnsupportedMediaType(
            "Send the body as JSON with 'Content-Type: application/json'.",
            code="json_required",
        )


async def body(request: Request, kind: type[T]) -> T:
    require_json_type(request)
    raw = await read_body(request, platform(request).settings.max_body_bytes)
    return schemas.decode(raw, kind)


async def optional_body(request: Request, kind: type[T]) -> T | None:
    """A JSON body that may be absent (for cookie-based calls)."""
    raw = await read_body(request, platform(request).settings.max_body_bytes)
    if not raw.strip():
        return None
    require_json_type(request)
    return schemas.decode(raw, kind)


def ip(request: Request) -> str:
    cached: str | None = request.scope.get("mainplatform.client_ip")
    if cached is None:
        peer = request.client.host if request.client else None
        cached = client_ip(
            peer, request.headers.get("x-forwarded-for"), platform(request).settings.trusted_proxies
        )
        request.scope["mainplatform.client_ip"] = cached
    return cached


def client(request: Request) -> Client:
    """The caller's IP and User-Agent, for the security notices."""
    return Client(ip(request), request.headers.get("user-agent", ""))


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Use 'Authorization: Bearer <access token>'.", code="invalid_token")
    return token.strip()


async def authenticated(request: Request, *, write: bool = False) -> tuple[AccessClaims, Guard]:
    """The bearer token's claims, and what the guard read of its user's data version
    (``ReadCache``; ``write``: the request may write the user's data)."""
    token = bearer(request)
    if token is None:
        raise Unauthorized()
    claims, guard = await platform(request).sessions.authenticate(token, write=write)
    request.scope["mainplatform.user_id"] = claims.user_id
    return claims, guard


def check_origin(request: Request) -> None:
    """CSRF guard for cookie-authenticated calls: an ``Origin``, when sent, must be ours."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    allowed = platform(request).settings.allowed_origins
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    forwarded_proto = request.headers.get("x-forwarded-proto")
    candidates = {own}
    if forwarded_proto in {"http", "https"}:
        candidates.add(f"{forwarded_proto}://{request.headers.get('host', '')}")
    if origin not in allowed and origin not in candidates:
        raise Forbidden("This request came from another site.", code="origin_not_allowed")


def path_id(request: Request, name: str = "id") -> int:
    raw = request.path_params[name]
    value = raw if isinstance(raw, int) else int(str(raw))
    if not 0 < value <= schemas.MAX_ID:
        raise BadRequest("The id is out of range.", code="invalid_id")
    return value
