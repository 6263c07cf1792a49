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


# -- each operation is declared once, on its handler (api/operations.py) -------------------

import ast  # noqa: E402
import inspect  # noqa: E402
import textwrap  # noqa: E402

import pytest  # noqa: E402
from openapi_spec_validator import validate  # noqa: E402
from starlette.routing import compile_path  # noqa: E402

from mainplatform.api.openapi import build_spec, plain_path  # noqa: E402
from mainplatform.api.routes import OPERATIONS  # noqa: E402
from tests.support import ROOT, Services, User, make_admin  # noqa: E402


def test_document_validates_against_the_openapi_31_schema() -> None:
    validate(build_spec(OPERATIONS))  # openapi-spec-validator: raises on any violation


def test_operation_ids_are_unique() -> None:
    ids = [op.operation_id for op in OPERATIONS] + ["openapi"]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_every_path_parameter_is_rendered() -> None:
    spec = build_spec(OPERATIONS)
    for op in OPERATIONS:
        entry = spec["paths"][plain_path(op.path)][op.method.lower()]
        _, _, convertors = compile_path(op.path)
        rendered = {p["name"]: p for p in entry.get("parameters", []) if p["in"] == "path"}
        assert set(rendered) == set(convertors), op.path
        for p in rendered.values():
            assert p["required"] is True and p["schema"]["type"] in ("integer", "string")


def test_a_route_exists_for_each_declaration(client: TestClient) -> None:
    served = {
        (r.path, m) for r in client.app.routes if isinstance(r, Route) for m in r.methods or ()
    }  # type: ignore[attr-defined]
    assert {(op.path, op.method) for op in OPERATIONS} <= served


def test_each_operation_path_is_written_in_one_backend_file() -> None:
    """A newcomer finds ``POST /api/notes`` by its path in exactly one file: its handler's."""
    sources = {p: p.read_text() for p in (ROOT / "backend" / "src" / "mainplatform").rglob("*.py")}
    for op in OPERATIONS:
        holders = [p.name for p, text in sources.items() if f'"{op.path}"' in text]
        assert holders == [inspect.getfile(op.handler).rsplit("/", 1)[-1]], (op.path, holders)


AUTH_HELPERS = {"authenticated", "body", "optional_body", "page_request", "require_admin"}


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: f"{op.method} {op.path}")
def test_handlers_do_not_redo_what_their_declaration_says(op: object) -> None:
    """Authentication, body decoding and paging come from the declaration; a handler calls
    them itself only when it is declared ``auth="session"`` (credential optional)."""
    from mainplatform.api.operations import Operation

    assert isinstance(op, Operation)
    tree = ast.parse(textwrap.dedent(inspect.getsource(op.handler)))
    calls = [node.func for node in ast.walk(tree) if isinstance(node, ast.Call)]
    called = {f.id for f in calls if isinstance(f, ast.Name)} | {
        f.attr for f in calls if isinstance(f, ast.Attribute) and f.attr == "require_admin"
    }
    allowed = {"authenticated"} if op.auth == "session" else set()
    assert not (called & AUTH_HELPERS) - allowed, (op.operation_id, called & AUTH_HELPERS)


def _path(op_path: str) -> str:
    return plain_path(op_path).replace("{id}", "1")


def test_no_operation_is_reachable_without_the_auth_it_declares(
    client: TestClient, services: Services
) -> None:
    for op in OPERATIONS:  # no credential at all (the cookie jar is still empty)
        path = _path(op.path)
        anonymous = client.request(op.method, path, headers={"Content-Type": "application/json"})
        if op.auth in ("user", "admin"):
            assert anonymous.status_code == 401, (op.method, path, anonymous.text)
        if op.auth == "public":
            assert anonymous.status_code not in (401, 403), (op.method, path, anonymous.text)
    plain = User(client, "plain@example.org")
    for op in OPERATIONS:  # signed in, without the admin role
        if op.auth == "admin":
            path = _path(op.path)
            r = plain.request(op.method, path, headers={"Content-Type": "application/json"})
            assert r.status_code == 403, (op.method, path, r.text)
    make_admin(services, plain)
    assert plain.get("/api/admin/users").status_code == 200
