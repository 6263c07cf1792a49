"""The workers' cache of ``/users/me`` (``ReadCache``): never a stale answer after a write
through the application, in any worker, and no weaker revocation or rate limit. (Note pages
are not cached; the reads below check them anyway.)

The server tests run `mainplatform serve` with two workers; each read opens a fresh
connection, which the kernel's SO_REUSEPORT group spreads over both workers, so a read
after a write lands on a worker whose cache was warmed before the write (20 reads all on
one worker: probability 2 x 2**-20)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import psycopg
import pytest
import redis

from mainplatform.cache import version_key
from mainplatform.readcache import ReadCache
from tests.support import Services, stop_process, throwaway_services
from tests.support.services import backend_env, start_backend
from tests.support.users import api_register, api_token

SRC = Path(__file__).resolve().parents[2] / "backend" / "src" / "mainplatform"
READS = 20


@pytest.fixture(scope="module")
def own() -> Iterator[tuple[Services, str]]:
    """A two-worker backend on servers of this module alone (one test stops Redis)."""
    with throwaway_services("mainplatform-readcache-") as svc:
        proc, url = start_backend(backend_env(svc, RATE_LIMIT_API="100000/minute"), workers=2)
        try:
            yield svc, url
        finally:
            stop_process(proc)


def sign_up(url: str, email: str) -> tuple[int, dict[str, str]]:
    """A new account's id and its bearer header."""
    user_id = api_register(url, email)
    return user_id, {"Authorization": f"Bearer {api_token(url, email)}"}


def fresh(url: str, method: str, path: str, auth: dict[str, str], **kw: Any) -> httpx.Response:
    """One request on a new connection (so on either worker)."""
    with httpx.Client(base_url=url, headers={**auth, "Connection": "close"}) as http:
        return http.request(method, path, **kw)


def reads(url: str, path: str, auth: dict[str, str]) -> list[httpx.Response]:
    return [fresh(url, "GET", path, auth) for _ in range(READS)]


def note_titles(url: str, auth: dict[str, str]) -> set[tuple[str, ...]]:
    """The first page's titles, as each of the reads saw them."""
    return {
        tuple(n["title"] for n in r.json()["items"])
        for r in reads(url, "/api/notes?limit=25", auth)
    }


def test_a_write_is_seen_at_once_by_every_worker(own: tuple[Services, str]) -> None:
    _, url = own
    _, auth = sign_up(url, "fresh@example.org")
    note = fresh(url, "POST", "/api/notes", auth, json={"title": "first"}).json()
    for path in ("/api/users/me", "/api/notes?limit=25"):
        assert all(r.status_code == 200 for r in reads(url, path, auth))  # both warm

    r = fresh(url, "PATCH", "/api/users/me", auth, json={"display_name": "Renamed"})
    assert r.status_code == 200, r.text
    assert {r.json()["display_name"] for r in reads(url, "/api/users/me", auth)} == {"Renamed"}

    assert fresh(url, "POST", "/api/notes", auth, json={"title": "second"}).status_code == 201
    assert note_titles(url, auth) == {("second", "first")}

    r = fresh(url, "PATCH", f"/api/notes/{note['id']}", auth, json={"title": "edited"})
    assert r.status_code == 200
    assert note_titles(url, auth) == {("second", "edited")}

    assert fresh(url, "DELETE", f"/api/notes/{note['id']}", auth).status_code == 204
    assert note_titles(url, auth) == {("second",)}


def test_one_users_write_leaves_anothers_reads_alone(own: tuple[Services, str]) -> None:
    svc, url = own
    (a_id, a), (b_id, b) = sign_up(url, "a@example.org"), sign_up(url, "b@example.org")
    reads(url, "/api/users/me", b)
    rd = redis.Redis.from_url(svc.redis.url)
    ver_a, ver_b = rd.get(version_key(a_id)), rd.get(version_key(b_id))
    assert fresh(url, "PATCH", "/api/users/me", a, json={"display_name": "A"}).status_code == 200
    assert rd.get(version_key(a_id)) != ver_a and rd.get(version_key(b_id)) == ver_b
    assert {r.json()["display_name"] for r in reads(url, "/api/users/me", b)} == {""}


@pytest.mark.parametrize("end", ["/api/auth/logout", "/api/auth/logout-all"])
def test_revocation_stops_cached_reads_in_every_worker(own: tuple[Services, str], end: str) -> None:
    _, url = own
    _, auth = sign_up(url, f"revoked{len(end)}@example.org")
    for path in ("/api/users/me", "/api/notes?limit=25"):
        assert all(r.status_code == 200 for r in reads(url, path, auth))
    assert fresh(url, "POST", end, auth).status_code == 204
    for path in ("/api/users/me", "/api/notes?limit=25"):
        codes = {r.status_code for r in reads(url, path, auth)}
        assert codes == {401}, (path, codes)


def test_a_hand_edit_needs_cache_reset_and_then_shows(own: tuple[Services, str]) -> None:
    """Outside the app nothing moves a version: `mainplatform cache-reset` does (and a
    control read shows the cache really was in the way before it)."""
    svc, url = own
    _, auth = sign_up(url, "edited@example.org")
    reads(url, "/api/users/me", auth)
    with psycopg.connect(svc.database_url, autocommit=True) as conn:
        conn.execute("UPDATE users SET display_name = 'By hand' WHERE email = 'edited@example.org'")
    assert "By hand" not in {r.json()["display_name"] for r in reads(url, "/api/users/me", auth)}
    r = subprocess.run(
        [sys.executable, "-m", "mainplatform", "cache-reset"],
        env=backend_env(svc),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 0, r.stderr
    assert {r.json()["display_name"] for r in reads(url, "/api/users/me", auth)} == {"By hand"}


def test_redis_losing_its_data_empties_every_cache(own: tuple[Services, str]) -> None:
    """A reseed after a flush gives versions a new prefix: an entry cached under a version
    from before the loss (which may count from 0 again) never matches."""
    svc, url = own
    _, auth = sign_up(url, "flushed@example.org")
    reads(url, "/api/users/me", auth)
    with psycopg.connect(svc.database_url, autocommit=True) as conn:
        conn.execute("UPDATE users SET display_name = 'After' WHERE email = 'flushed@example.org'")
    redis.Redis.from_url(svc.redis.url).flushdb()
    assert {r.json()["display_name"] for r in reads(url, "/api/users/me", auth)} == {"After"}


def test_redis_down_is_503_even_with_warm_caches(own: tuple[Services, str]) -> None:
    svc, url = own
    _, auth = sign_up(url, "outage@example.org")
    for path in ("/api/users/me", "/api/notes?limit=25"):
        reads(url, path, auth)
    svc.redis.stop()
    try:
        for path in ("/api/users/me", "/api/notes?limit=25"):
            codes = {r.status_code for r in reads(url, path, auth)}
            assert codes == {503}, (path, codes)
    finally:
        svc.redis.start()


def test_rate_limit_stays_exact_with_warm_caches(services: Services) -> None:
    proc, url = start_backend(backend_env(services, RATE_LIMIT_API="8/minute"), workers=2)
    try:
        services.reset()
        _, auth = sign_up(url, "limited@example.org")
        codes = [fresh(url, "GET", "/api/users/me", auth).status_code for _ in range(12)]
    finally:
        stop_process(proc)
    assert codes == [200] * 8 + [429] * 4, codes


def test_cache_keeps_to_its_capacity() -> None:
    cache: ReadCache[int] = ReadCache(10)
    for i in range(10):
        cache.put(i, "v1", i)
    assert len(cache) == 10
    cache.get(0, "v1")  # 0 is now the most recently used
    cache.put(10, "v1", 10)
    cache.put(11, "v1", 11)
    assert len(cache) == 10
    assert cache.get(0, "v1") == 0
    assert cache.get(1, "v1") is None and cache.get(2, "v1") is None
    assert cache.get(10, "v2") is None  # another version: a miss
    cache.put(12, "", 12)  # no version (no token was checked): not kept
    assert cache.get(12, "") is None
    off: ReadCache[int] = ReadCache(0)
    off.put(1, "v1", 1)
    assert off.get(1, "v1") is None and len(off) == 0


# -- every write to what the cache holds moves the version ---------------------------------

WRITES = re.compile(r"\b(UPDATE|INSERT INTO|DELETE FROM) users\b")


def writers() -> list[tuple[str, str, bool]]:
    """(file, function, whether it calls ``changed``/``_data_changed``) for every function of
    the backend whose SQL writes users."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            sql = " ".join(
                n.value
                for n in ast.walk(node)
                if isinstance(n, ast.Constant) and isinstance(n.value, str)
            )
            if not WRITES.search(sql):
                continue
            calls = {
                n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", "")
                for n in ast.walk(node)
                if isinstance(n, ast.Call)
            }
            found.append((path.name, node.name, bool(calls & {"changed", "_data_changed"})))
    return found


def test_every_write_of_a_user_row_moves_the_version() -> None:
    found = writers()
    assert len(found) >= 9, found  # the scan sees the writers (accounts, users, cli, ...)
    missing = [(f, fn) for f, fn, ok in found if not ok and fn != "migrate"]
    assert not missing, f"these write users without Cache.changed(): {missing}"
