"""Revocations live in Redis for speed and in PostgreSQL for good: when Redis loses its data
(a flush, a restart without its append-only file), the first authenticated request copies
back every revocation that can still matter (users.tokens_valid_after, revoked families),
so no revoked access token works again."""

from __future__ import annotations

import redis
from starlette.testclient import TestClient

from tests.support import STRONG_PASSWORD, Services, User, make_admin


def lose_redis_data(services: Services) -> None:
    redis.Redis.from_url(services.redis.url).flushall()


def status(client: TestClient, token: str) -> int:
    return client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_logout_all_survives_a_redis_data_loss(client: TestClient, services: Services) -> None:
    user = User(client, "flush@example.org")
    first = user.token
    second = user.login().json()["access_token"]
    assert user.post("/api/auth/logout-all").status_code == 204
    assert status(client, first) == status(client, second) == 401
    lose_redis_data(services)
    assert status(client, first) == 401
    assert status(client, second) == 401
    fresh = user.login().json()["access_token"]
    assert status(client, fresh) == 200


def test_logout_password_change_and_disabling_survive_it(
    client: TestClient, services: Services
) -> None:
    out = User(client, "out@example.org")
    out_token = out.token
    assert out.post("/api/auth/logout").status_code == 204

    changer = User(client, "changer@example.org")
    other_device = changer.token
    changer.login()  # a second session: it changes the password, the first one ends
    r = changer.post(
        "/api/users/me/password",
        json={"current_password": STRONG_PASSWORD, "new_password": STRONG_PASSWORD + " again"},
    )
    assert r.status_code == 204

    admin = User(client, "admin@example.org")
    make_admin(services, admin)
    victim = User(client, "disabled@example.org")
    assert admin.patch(f"/api/admin/users/{victim.id}", json={"disabled": True}).status_code == 200

    before = [status(client, t) for t in (out_token, other_device, victim.token)]
    assert before == [401, 401, 401]
    lose_redis_data(services)
    after = [status(client, t) for t in (out_token, other_device, victim.token)]
    assert after == [401, 401, 401]
    assert status(client, changer.token) == 200  # the session that changed it stays
    assert status(client, admin.token) == 200


def test_without_postgresql_copy_a_flush_would_resurrect_tokens(
    client: TestClient, services: Services
) -> None:
    """The control: the copy back is what keeps them revoked. With the cutoff gone from
    PostgreSQL as well (here by hand), the flushed token is accepted again."""
    import psycopg

    user = User(client, "control@example.org")
    token = user.token
    assert user.post("/api/auth/logout-all").status_code == 204
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute("UPDATE users SET tokens_valid_after = '-infinity' WHERE id = %s", (user.id,))
        conn.execute("UPDATE refresh_families SET revoked_at = NULL WHERE user_id = %s", (user.id,))
    lose_redis_data(services)
    assert status(client, token) == 200
