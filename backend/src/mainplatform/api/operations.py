"""How an API operation is declared: once, on its handler.

    @operation("POST", "/api/things", "Create a thing", tag="things", status=201, auth="user")
    async def create_thing(call: Call[schemas.ThingCreate]) -> schemas.Thing: ...

The declaration (method, path, summary, tag, status, auth, paging, extra responses) and the
handler's signature (the request body type in ``Call[...]``, the response type it returns) are
the only description of the operation: the router, the body decoding, the authentication, the
paging parameters and the OpenAPI document (``api/openapi.py``) are all derived from them.
"""

from __future__ import annotations

import inspect
import re
import time
import types
import typing
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, Union

import msgspec
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response

from mainplatform.api.common import (
    JSON,
    authenticated,
    body,
    optional_body,
    platform,
)
from mainplatform.cache import NO_GUARD, SLOW_WRITE, Guard
from mainplatform.errors import BadRequest
from mainplatform.platform import Platform
from mainplatform.security.tokens import AccessClaims

B = TypeVar("B")


class IdConvertor(Convertor[int]):
    """A row id in a path, ``{id:id}``: at most 19 ASCII digits. Starlette's ``int`` takes any
    number of digits, and ``int()`` refuses more than 4300, which made a long path a 500."""

    regex = "[0-9]{1,19}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())

# public: no credential. user: a bearer access token (401 without one). admin: the same, and
# the admin role read from the database (403 without it). session: the handler takes the
# access token and/or the refresh token (cookie or body) itself; both are optional.
Auth = Literal["public", "user", "admin", "session"]


@dataclass(frozen=True, slots=True)
class Page:
    """The ``limit`` and ``cursor`` query parameters of a paged list."""

    default: int = 20
    maximum: int = 100


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int
    cursor: str | None


_SMALL_NUMBER = re.compile(r"[0-9]{1,6}")  # ASCII only: str.isdigit() also takes "³" and "٣"
MAX_CURSOR = 64


def page_request(request: Request, page: Page) -> PageRequest:
    raw = request.query_params.get("limit")
    limit = page.default
    if raw is not None:
        if not _SMALL_NUMBER.fullmatch(raw) or not 1 <= int(raw) <= page.maximum:
            raise BadRequest(
                f"'limit' must be a whole number from 1 to {page.maximum}.", code="invalid_limit"
            )
        limit = int(raw)
    cursor = request.query_params.get("cursor") or None
    if cursor is not None and len(cursor) > MAX_CURSOR:
        raise BadRequest("The cursor is not valid.", code="invalid_cursor")
    return PageRequest(limit, cursor)


@dataclass(slots=True)
class Call(Generic[B]):
    """What a handler gets: the request, the platform, the checked identity, the decoded body,
    the page asked for, and headers to add to the response it returns as a value."""

    request: Request
    platform: Platform
    body: B
    claims: AccessClaims | None = None
    guard: Guard = NO_GUARD  # what the guard read of the caller's data version (``ReadCache``)
    page: PageRequest = field(default_factory=lambda: PageRequest(0, None))
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def user(self) -> AccessClaims:
        """The signed-in caller (operations declared with ``auth="user"`` or ``"admin"``)."""
        if self.claims is None:
            raise RuntimeError("this operation is not declared with auth='user' or 'admin'")
        return self.claims


Handler = Callable[[Call[Any]], Awaitable[Any]]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    handler: Handler
    status: int = 200
    auth: Auth = "public"
    page: Page | None = None
    request: type[msgspec.Struct] | None = None
    request_optional: bool = False
    response: type[msgspec.Struct] | None = None
    responses: dict[int, type[msgspec.Struct]] = field(default_factory=dict)
    # The request/response function the router calls: built from the fields above.
    endpoint: Callable[[Request], Awaitable[Response]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "endpoint", _make_endpoint(self))

    @property
    def operation_id(self) -> str:
        """``<module>_<function>``: unique, because a module cannot hold two of one name."""
        module = self.handler.__module__.rsplit(".", 1)[-1]
        return f"{module}_{self.handler.__name__}"


def _make_endpoint(op: Operation) -> Callable[[Request], Awaitable[Response]]:
    kind, optional, page, auth, status = (
        op.request,
        op.request_optional,
        op.page,
        op.auth,
        op.status,
    )
    handler = op.handler
    signed_in = auth == "user" or auth == "admin"
    # A signed-in request that is not a GET may write its user's data: its guard moves the
    # data version first and starts a write lease (``Cache.check``).
    writes = signed_in and op.method != "GET"

    decode = optional_body if optional else body

    async def endpoint(request: Request) -> Response:
        p = platform(request)
        claims, guard, started = None, NO_GUARD, 0.0
        if signed_in:
            started = time.monotonic()
            claims, guard = await authenticated(request, write=writes)
        try:
            if auth == "admin":
                assert claims is not None
                await p.users.require_admin(claims.user_id)
            data = None if kind is None else await decode(request, kind)
            call: Call[Any] = Call(request, p, data, claims, guard)
            if page is not None:
                call.page = page_request(request, page)
            result = await handler(call)
        finally:
            if writes and time.monotonic() - started > SLOW_WRITE:
                # Its commit may have come after its lease ended: the reads cached since
                # stop matching before it answers.
                assert claims is not None
                await p.cache.changed(claims.user_id)
        if isinstance(result, Response):
            return result
        if result is None:
            return Response(status_code=status, headers=call.headers or None)
        return JSON(result, status_code=status, headers=call.headers or None)

    endpoint.__name__ = handler.__name__
    endpoint.__qualname__ = handler.__qualname__
    return endpoint


def operation(
    method: str,
    path: str,
    summary: str,
    *,
    tag: str,
    status: int = 200,
    auth: Auth = "public",
    page: Page | None = None,
    response: type[msgspec.Struct] | None = None,
    responses: dict[int, type[msgspec.Struct]] | None = None,
) -> Callable[[Handler], Operation]:
    """Declare an operation on its handler. The body type comes from the handler's
    ``call: Call[T]`` annotation (``T | None``: the body may be absent; ``None``: no body),
    the response type from its return annotation when that is a Struct (``response`` names
    the documented type when the handler returns something else, e.g. pre-rendered JSON)."""

    def declare(handler: Handler) -> Operation:
        request, optional, returned = _signature(handler)
        return Operation(
            method=method,
            path=path,
            summary=summary,
            tag=tag,
            handler=handler,
            status=status,
            auth=auth,
            page=page,
            request=request,
            request_optional=optional,
            response=response or returned,
            responses=dict(responses or {}),
        )

    return declare


def _signature(
    handler: Handler,
) -> tuple[type[msgspec.Struct] | None, bool, type[msgspec.Struct] | None]:
    hints = typing.get_type_hints(handler)
    params = list(inspect.signature(handler).parameters)
    if len(params) != 1:
        raise TypeError(f"{handler.__qualname__}: a handler takes one argument, call: Call[...]")
    annotation = hints[params[0]]
    if typing.get_origin(annotation) is not Call:
        raise TypeError(f"{handler.__qualname__}: annotate its argument as Call[<body type>]")
    (body_type,) = typing.get_args(annotation)
    request: type[msgspec.Struct] | None = None
    optional = False
    if body_type is not type(None):
        members = typing.get_args(body_type) if _is_union(body_type) else (body_type,)
        structs = [m for m in members if m is not type(None)]
        optional = len(structs) != len(members)
        if len(structs) != 1 or not _is_struct(structs[0]):
            raise TypeError(f"{handler.__qualname__}: the body type must be one Struct")
        request = structs[0]
    returned = hints.get("return")
    return request, optional, returned if _is_struct(returned) else None


def _is_union(t: Any) -> bool:
    return typing.get_origin(t) in (Union, types.UnionType)


def _is_struct(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, msgspec.Struct)


def collect(modules: Iterable[types.ModuleType]) -> list[Operation]:
    """The operations declared in ``modules``, in the order they are written."""
    return [v for m in modules for v in vars(m).values() if isinstance(v, Operation)]
