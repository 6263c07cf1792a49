"""Notes: owner scoping (another user's note is 404), partial updates, keyset pagination."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import psycopg
from starlette.testclient import TestClient

from mainplatform.services.notes import LIST_SQL
from tests.support import Services, User


def test_crud(user: User) -> None:
    r = user.post("/api/notes", json={"title": "first", "body": "one"})
    assert r.status_code == 201
    note = r.json()
    assert r.headers["location"] == f"/api/notes/{note['id']}"
    assert user.get(f"/api/notes/{note['id']}").json()["body"] == "one"
    r = user.patch(f"/api/notes/{note['id']}", json={"body": "changed"})
    assert r.status_code == 200
    assert r.json()["title"] == "first" and r.json()["body"] == "changed"
    assert r.json()["updated_at"] >= note["updated_at"]
    assert user.delete(f"/api/notes/{note['id']}").status_code == 204
    assert user.get(f"/api/notes/{note['id']}").status_code == 404
    assert user.delete(f"/api/notes/{note['id']}").status_code == 404


def test_other_users_notes_are_404(client: TestClient, user: User) -> None:
    bob = User(client, "bob@example.org")
    note = user.post("/api/notes", json={"title": "private"}).json()
    for call in (bob.get, bob.delete):
        assert call(f"/api/notes/{note['id']}").status_code == 404
    assert bob.patch(f"/api/notes/{note['id']}", json={"title": "mine"}).status_code == 404
    assert bob.get("/api/notes").json()["items"] == []
    assert user.get(f"/api/notes/{note['id']}").json()["title"] == "private"


def test_keyset_pagination_walks_every_note_once(user: User) -> None:
    made = [user.post("/api/notes", json={"title": f"n{i}"}).json()["id"] for i in range(7)]
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = user.get("/api/notes", params=params).json()
        seen += [n["id"] for n in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(made, reverse=True)
    assert pages == 3


def test_pagination_is_stable_under_inserts(user: User) -> None:
    for i in range(4):
        user.post("/api/notes", json={"title": f"old{i}"})
    page = user.get("/api/notes", params={"limit": "2"}).json()
    user.post("/api/notes", json={"title": "new"})
    rest = user.get("/api/notes", params={"limit": "10", "cursor": page["next_cursor"]}).json()
    titles = [n["title"] for n in page["items"] + rest["items"]]
    assert titles == ["old3", "old2", "old1", "old0"]


def test_bad_paging_parameters(user: User) -> None:
    for params in ({"limit": "0"}, {"limit": "101"}, {"limit": "ten"}, {"limit": "-1"}):
        r = user.get("/api/notes", params=params)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_limit"
    for cursor in ("!!!", "bjo=", "eA", "x" * 100, "bjotMQ"):
        r = user.get("/api/notes", params={"cursor": cursor})
        assert r.status_code == 400, cursor
        assert r.json()["error"]["code"] == "invalid_cursor"


def test_validation(user: User) -> None:
    assert user.post("/api/notes", json={"title": ""}).status_code == 422
    assert user.post("/api/notes", json={"title": "x" * 201}).status_code == 422
    assert user.post("/api/notes", json={"title": "ok", "body": 5}).status_code == 422
    assert user.post("/api/notes", json={"title": "ok", "owner_id": 2}).status_code == 422
    assert user.get("/api/notes/99999999999999999999999").status_code in (400, 404)
    assert user.get("/api/notes/abc").status_code == 404


def test_notes_need_authentication(client: TestClient) -> None:
    r = client.get("/api/notes")
    assert r.status_code == 401
    assert r.json() == {"error": {"code": "unauthorized", "message": "Authentication required."}}


def test_list_output_matches_the_documented_schema(user: User) -> None:
    import msgspec

    from mainplatform import schemas

    made = [
        user.post("/api/notes", json={"title": f"s{i}", "body": 'ü "q" \\ \n'}).json()
        for i in range(3)
    ]
    raw = user.get("/api/notes", params={"limit": "2"}).content
    page = msgspec.json.decode(raw, type=schemas.NotePage, strict=True)
    assert [n.id for n in page.items] == [made[2]["id"], made[1]["id"]]
    assert page.items[0].body == 'ü "q" \\ \n'
    single = msgspec.json.decode(user.get(f"/api/notes/{made[2]['id']}").content, type=schemas.Note)
    assert page.items[0] == single  # same values, whichever path rendered them
    empty = msgspec.json.decode(
        user.get("/api/notes", params={"cursor": page.next_cursor, "limit": "5"}).content,
        type=schemas.NotePage,
    )
    assert [n.id for n in empty.items] == [made[0]["id"]]
    assert empty.next_cursor is None


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def test_a_deep_page_reads_only_its_own_rows(services: Services) -> None:
    """The cursor is an index condition of the plan PostgreSQL keeps for the list (a generic
    plan, which it settles on after five runs): a page deep in a long list reads its 26 rows,
    not every newer note of the owner to skip them. (Rolled back: no rows stay.)"""
    with psycopg.connect(services.database_url) as conn:
        owners = [
            r[0]
            for r in conn.execute(
                "INSERT INTO users (email, password_hash) SELECT 'plan' || g || '@example.org',"
                " 'x' FROM generate_series(1, 200) g RETURNING id"
            )
        ]
        conn.execute(
            "INSERT INTO notes (owner_id, title)"
            " SELECT %s, 'n' || g FROM generate_series(1, 4000) g",
            (owners[0],),
        )
        conn.execute(
            "INSERT INTO notes (owner_id, title) SELECT (%s::bigint[])[1 + g %% 200], 'n' || g"
            " FROM generate_series(1, 4000) g",
            (owners,),
        )
        conn.execute("ANALYZE notes")
        conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        middle = conn.execute(
            "SELECT id FROM notes WHERE owner_id = %s ORDER BY id LIMIT 1 OFFSET 2000",
            (owners[0],),
        ).fetchone()
        assert middle is not None
        sql = re.sub(
            r"%\((\w+)\)s", lambda m: {"owner": "$1", "before": "$2", "limit": "$3"}[m[1]], LIST_SQL
        )
        # Values bound on the client: $1.. belong to the prepared statement, not to these.
        client = psycopg.ClientCursor(conn)
        client.execute(f"PREPARE page(bigint, bigint, int) AS {sql}")
        client.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE page(%s, %s, 25)", (owners[0], middle[0])
        )
        (plan,) = client.fetchone()  # type: ignore[misc]
        conn.rollback()
    scans = [n for n in plan_nodes(plan[0]["Plan"]) if n.get("Relation Name") == "notes"]
    assert len(scans) == 1, plan
    assert scans[0].get("Rows Removed by Filter", 0) == 0, scans[0]
    assert scans[0]["Actual Rows"] <= 27, scans[0]  # 26, and one the window looks ahead at
