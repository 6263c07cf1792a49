"""The admin role: listing users, changing roles, disabling (which ends sessions)."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.support import Services, User, make_admin


def test_non_admin_gets_403(user: User) -> None:
    assert user.get("/api/admin/users").status_code == 403
    assert user.patch(f"/api/admin/users/{user.id}", json={"role": "admin"}).status_code == 403


def test_admin_lists_users_paginated(client: TestClient, user: User, services: Services) -> None:
    make_admin(services, user)
    for i in range(4):
        User(client, f"u{i}@example.org")
    first = user.get("/api/admin/users", params={"limit": "3"}).json()
    assert [u["email"] for u in first["items"]] == [
        "alice@example.org",
        "u0@example.org",
        "u1@example.org",
    ]
    rest = user.get(
        "/api/admin/users", params={"limit": "3", "cursor": first["next_cursor"]}
    ).json()
    assert [u["email"] for u in rest["items"]] == ["u2@example.org", "u3@example.org"]
    assert rest["next_cursor"] is None


def test_promote_and_demote_take_effect_at_once(
    client: TestClient, user: User, services: Services
) -> None:
    make_admin(services, user)
    bob = User(client, "bob@example.org")
    assert bob.get("/api/admin/users").status_code == 403
    r = user.patch(f"/api/admin/users/{bob.id}", json={"role": "admin"})
    assert r.status_code == 200 and r.json()["role"] == "admin"
    assert bob.get("/api/admin/users").status_code == 200  # same token, new role
    user.patch(f"/api/admin/users/{bob.id}", json={"role": "user"})
    assert bob.get("/api/admin/users").status_code == 403


def test_disable_ends_sessions_and_blocks_login(
    client: TestClient, user: User, services: Services
) -> None:
    make_admin(services, user)
    bob = User(client, "bob@example.org")
    r = user.patch(f"/api/admin/users/{bob.id}", json={"disabled": True})
    assert r.status_code == 200 and r.json()["disabled"] is True
    assert bob.get("/api/users/me").status_code == 401
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": bob.refresh_token}).status_code
        == 401
    )
    r = client.post("/api/auth/login", json={"email": bob.email, "password": bob.password})
    assert r.status_code == 403 and r.json()["error"]["code"] == "account_disabled"
    user.patch(f"/api/admin/users/{bob.id}", json={"disabled": False})
    assert (
        client.post(
            "/api/auth/login", json={"email": bob.email, "password": bob.password}
        ).status_code
        == 200
    )


def test_admin_cannot_lock_themselves_out(user: User, services: Services) -> None:
    make_admin(services, user)
    assert user.patch(f"/api/admin/users/{user.id}", json={"disabled": True}).status_code == 409
    assert user.patch(f"/api/admin/users/{user.id}", json={"role": "user"}).status_code == 409


def test_admin_update_validation(user: User, services: Services) -> None:
    make_admin(services, user)
    assert user.patch("/api/admin/users/999999", json={"role": "admin"}).status_code == 404
    assert user.patch(f"/api/admin/users/{user.id}", json={"role": "root"}).status_code == 422
    assert user.patch(f"/api/admin/users/{user.id}", json={"disabled": "yes"}).status_code == 422
