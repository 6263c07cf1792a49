"""The route table: every declared operation, the OpenAPI document and ``/metrics``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mainplatform.api import admin, auth, notes, oidc, recovery, system, users
from mainplatform.api.common import json
from mainplatform.api.openapi import build_spec
from mainplatform.api.operations import collect

OPERATIONS = collect([system, auth, recovery, oidc, users, admin, notes])


def routes() -> list[Route]:
    spec = build_spec(OPERATIONS)

    async def openapi(request: Request) -> Response:
        return json(spec)

    table = [
        Route(op.path, op.endpoint, methods=[op.method], name=op.operation_id) for op in OPERATIONS
    ]
    table.append(Route("/api/openapi.json", openapi, methods=["GET"], name="openapi"))
    table.append(Route("/metrics", system.metrics, methods=["GET"], name="metrics"))
    return table
