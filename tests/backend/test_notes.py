"""Notes: owner scoping (another user's note is 404), partial updates, keyset pagination."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.support import User


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
