"""The OpenAPI 3.1 document: a pure function of the declared operations (``api/operations``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from starlette.convertors import Convertor, IntegerConvertor, StringConvertor
from starlette.routing import compile_path

from mainplatform import __version__, schemas
from mainplatform.api.common import REFRESH_COOKIE
from mainplatform.api.operations import MAX_CURSOR, IdConvertor, Operation

REF = "#/components/schemas/{name}"


def parameter_schema(convertor: Convertor[Any]) -> dict[str, Any]:
    """The schema of a path parameter, from its convertor (a new convertor must be added)."""
    if isinstance(convertor, IdConvertor):
        return {"type": "integer", "minimum": 1, "maximum": schemas.MAX_ID}
    if isinstance(convertor, IntegerConvertor):
        return {"type": "integer", "minimum": 0}
    if isinstance(convertor, StringConvertor):
        return {"type": "string", "pattern": "^[^/]+$"}
    raise TypeError(f"no OpenAPI schema for the path convertor {type(convertor).__name__}")


def plain_path(path: str) -> str:
    """``/api/notes/{id:id}`` → ``/api/notes/{id}``."""
    _, template, _ = compile_path(path)
    return template


def _security(op: Operation) -> list[dict[str, list[str]]] | None:
    if op.auth in ("user", "admin"):
        return [{"bearer": []}]
    if op.auth == "session":  # the access token, the refresh cookie, or neither (the body)
        return [{"bearer": []}, {"refreshCookie": []}, {}]
    return None


def _json(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": REF.format(name=name)}}}


def build_spec(operations: Sequence[Operation]) -> dict[str, Any]:
    structs: set[type[msgspec.Struct]] = {schemas.ErrorBody}
    for op in operations:
        structs.update(t for t in (op.request, op.response) if t is not None)
        structs.update(op.responses.values())
    _, components = msgspec.json.schema_components(
        sorted(structs, key=lambda t: t.__name__), ref_template=REF
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        responses: dict[str, Any] = {
            "default": {"description": "Error", "content": _json("ErrorBody")}
        }
        ok: dict[str, Any] = {"description": "Success"}
        if op.response is not None:
            ok["content"] = _json(op.response.__name__)
        responses[str(op.status)] = ok
        for status, kind in sorted(op.responses.items()):
            responses[str(status)] = {"description": kind.__name__, "content": _json(kind.__name__)}
        entry: dict[str, Any] = {
            "summary": op.summary,
            "operationId": op.operation_id,
            "tags": [op.tag],
            "responses": responses,
        }
        if op.request is not None:
            entry["requestBody"] = {
                "required": not op.request_optional,
                "content": _json(op.request.__name__),
            }
        _, _, convertors = compile_path(op.path)
        params: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": parameter_schema(conv)}
            for name, conv in convertors.items()
        ]
        if op.page is not None:
            params += [
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": op.page.maximum,
                        "default": op.page.default,
                    },
                },
                {
                    "name": "cursor",
                    "in": "query",
                    "schema": {"type": "string", "maxLength": MAX_CURSOR},
                },
            ]
        if params:
            entry["parameters"] = params
        if (security := _security(op)) is not None:
            entry["security"] = security
        paths.setdefault(plain_path(op.path), {})[op.method.lower()] = entry
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
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "refreshCookie": {"type": "apiKey", "in": "cookie", "name": REFRESH_COOKIE},
            },
        },
    }
