"""The operation table: one list gives the routes and the OpenAPI document."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mainplatform import __version__, schemas
from mainplatform.api import admin, auth, notes, oidc, system, users
from mainplatform.api.common import Endpoint, json


class IdConvertor(Convertor[int]):
    """A row id in a path: at most 19 ASCII digits. Starlette's ``int`` takes any number of
    digits, and ``int()`` refuses more than 4300, which made a long path a 500."""

    regex = "[0-9]{1,19}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    endpoint: Endpoint
    summary: str
    tag: str
    status: int = 200
    request: type[msgspec.Struct] | None = None
    response: type[msgspec.Struct] | None = None
    secured: bool = False
    paged: bool = False
    request_optional: bool = False


S = schemas
OPERATIONS: tuple[Op, ...] = (
    Op("GET", "/api", system.index, "Service name and version", "system", response=S.ApiInfo),
    Op(
        "GET",
        "/api/health",
        system.health,
        "Liveness (touches no dependency)",
        "system",
        response=S.Health,
    ),
    Op(
        "GET",
        "/api/ready",
        system.ready,
        "Readiness of PostgreSQL and Redis",
        "system",
        response=S.Readiness,
    ),
    Op(
        "POST",
        "/api/auth/register",
        auth.register,
        "Create an account",
        "auth",
        201,
        S.Credentials,
        S.User,
    ),
    Op(
        "POST",
        "/api/auth/login",
        auth.login,
        "Sign in; sets the refresh cookie",
        "auth",
        200,
        S.Credentials,
        S.TokenResponse,
    ),
    Op(
        "POST",
        "/api/auth/refresh",
        auth.refresh,
        "Rotate the refresh token",
        "auth",
        200,
        S.RefreshRequest,
        S.TokenResponse,
        request_optional=True,
    ),
    Op(
        "POST",
        "/api/auth/logout",
        auth.logout,
        "End this session",
        "auth",
        204,
        S.RefreshRequest,
        request_optional=True,
    ),
    Op(
        "GET",
        "/api/auth/providers",
        oidc.providers,
        "Sign-in methods offered",
        "auth",
        response=S.Providers,
    ),
    Op(
        "GET",
        "/api/auth/oidc/login",
        oidc.login,
        "Start sign-in with the identity provider (redirect)",
        "auth",
        302,
    ),
    Op(
        "GET",
        "/api/auth/oidc/callback",
        oidc.callback,
        "Finish provider sign-in; sets the refresh cookie (redirect)",
        "auth",
        303,
    ),
    Op(
        "POST",
        "/api/auth/logout-all",
        auth.logout_all,
        "End every session of the user",
        "auth",
        204,
        secured=True,
    ),
    Op(
        "GET",
        "/api/users/me",
        users.me,
        "The signed-in user",
        "users",
        response=S.User,
        secured=True,
    ),
    Op(
        "PATCH",
        "/api/users/me",
        users.update_me,
        "Change display name or e-mail",
        "users",
        200,
        S.ProfileUpdate,
        S.User,
        secured=True,
    ),
    Op(
        "POST",
        "/api/users/me/password",
        users.change_password,
        "Change password; ends other sessions",
        "users",
        204,
        S.PasswordChange,
        secured=True,
    ),
    Op(
        "GET",
        "/api/admin/users",
        admin.list_users,
        "List users (admin)",
        "admin",
        response=S.UserPage,
        secured=True,
        paged=True,
    ),
    Op(
        "PATCH",
        "/api/admin/users/{id:id}",
        admin.update_user,
        "Change role or disable (admin)",
        "admin",
        200,
        S.AdminUserUpdate,
        S.User,
        secured=True,
    ),
    Op(
        "GET",
        "/api/notes",
        notes.list_notes,
        "The user's notes, newest first",
        "notes",
        response=S.NotePage,
        secured=True,
        paged=True,
    ),
    Op(
        "POST",
        "/api/notes",
        notes.create_note,
        "Create a note",
        "notes",
        201,
        S.NoteCreate,
        S.Note,
        secured=True,
    ),
    Op(
        "GET",
        "/api/notes/{id:id}",
        notes.get_note,
        "One note",
        "notes",
        response=S.Note,
        secured=True,
    ),
    Op(
        "PATCH",
        "/api/notes/{id:id}",
        notes.update_note,
        "Change a note",
        "notes",
        200,
        S.NoteUpdate,
        S.Note,
        secured=True,
    ),
    Op(
        "DELETE",
        "/api/notes/{id:id}",
        notes.delete_note,
        "Delete a note",
        "notes",
        204,
        secured=True,
    ),
)


def _plain(path: str) -> str:
    return path.replace("{id:id}", "{id}")


def build_spec() -> dict[str, Any]:
    structs = {op.request for op in OPERATIONS if op.request} | {
        op.response for op in OPERATIONS if op.response
    }
    structs.add(S.ErrorBody)
    ordered = sorted(structs, key=lambda t: t.__name__)
    _, components = msgspec.json.schema_components(
        ordered, ref_template="#/components/schemas/{name}"
    )
    ref = "#/components/schemas/{}".format
    error = {
        "description": "Error",
        "content": {"application/json": {"schema": {"$ref": ref("ErrorBody")}}},
    }
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        path = _plain(op.path)
        entry: dict[str, Any] = {
            "summary": op.summary,
            "operationId": op.endpoint.__name__
            if op.tag != "system"
            else f"system_{op.endpoint.__name__}",
            "tags": [op.tag],
            "responses": {"default": error},
        }
        ok: dict[str, Any] = {"description": "Success"}
        if op.response:
            ok["content"] = {"application/json": {"schema": {"$ref": ref(op.response.__name__)}}}
        entry["responses"][str(op.status)] = ok
        if op.request:
            entry["requestBody"] = {
                "required": not op.request_optional,
                "content": {"application/json": {"schema": {"$ref": ref(op.request.__name__)}}},
            }
        params: list[dict[str, Any]] = []
        if "{id" in op.path:
            params.append(
                {
                    "name": "id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1, "maximum": schemas.MAX_ID},
                }
            )
        if op.paged:
            params.append(
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                }
            )
            params.append({"name": "cursor", "in": "query", "schema": {"type": "string"}})
        if params:
            entry["parameters"] = params
        if op.secured:
            entry["security"] = [{"bearer": []}]
        paths.setdefault(path, {})[op.method.lower()] = entry
    paths["/api/openapi.json"] = {
        "get": {
            "summary": "This document",
            "operationId": "openapi",
            "tags": ["system"],
            "responses": {"200": {"description": "OpenAPI 3.1 document"}},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Main Platform API", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def routes() -> list[Route]:
    spec = build_spec()

    async def openapi(request: Request) -> Response:
        return json(spec)

    table = [
        Route(op.path, op.endpoint, methods=[op.method], name=f"{op.method} {op.path}")
        for op in OPERATIONS
    ]
    table.append(Route("/api/openapi.json", openapi, methods=["GET"]))
    table.append(Route("/metrics", system.metrics, methods=["GET"]))
    return table
