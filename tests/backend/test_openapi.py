"""The OpenAPI document describes every route with its schemas."""

from __future__ import annotations

from starlette.routing import Route
from starlette.testclient import TestClient


def test_every_route_is_documented(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    app_routes = {
        (method, r.path.replace("{id:id}", "{id}"))
        for r in client.app.routes  # type: ignore[attr-defined]
        if isinstance(r, Route) and r.path.startswith("/api")
        for method in (r.methods or set()) - {"HEAD"}
    }
    assert app_routes == documented


def test_schemas_resolve(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    schemas = spec["components"]["schemas"]
    refs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(spec)
    assert refs
    for ref in refs:
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    assert spec["paths"]["/api/auth/login"]["post"]["requestBody"]["content"]["application/json"]
    credentials = schemas["Credentials"]
    assert set(credentials["required"]) == {"email", "password"}
