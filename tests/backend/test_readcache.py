"""The workers' caches of ``/users/me`` and of note pages (``ReadCache``): never a stale
answer after a write through the application, in any worker, also while a write's commit is
held back, and no weaker revocation or rate limit.

The server tests run `mainplatform serve` with two workers; each read opens a fresh
connection, which the kernel's SO_REUSEPORT group spreads over both workers, so a read
after a write lands on a worker whose cache was warmed before the write (20 reads all on
one worker: probability 2 x 2**-20)."""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import psycopg
import pytest
import redis

from mainplatform.cache import SEEDED, SLOW_WRITE, WRITE_LEASE, version_key, wrote_key
from mainplatform.readcache import ReadCache
from tests.support import Services, mainplatform, stop_process, throwaway_services
from tests.support.services import backend_env, start_backend
from tests.support.users import api_register, api_token

SRC = Path(__file__).resolve().parents[2] / "backend" / "src" / "mainplatform"
READS = 20
PAGE = "/api/notes?limit=25"


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


def titles(page: httpx.Response) -> tuple[str, ...]:
    return tuple(n["title"] for n in page.json()["items"])


def note_titles(url: str, auth: dict[str, str]) -> set[tuple[str, ...]]:
    """The first page's titles, as each of the reads saw them."""
    return {titles(r) for r in reads(url, PAGE, auth)}


def settle() -> None:
    """Wait out the write lease of the last write, so that the reads after it are kept."""
    time.sleep(WRITE_LEASE + 0.2)


def test_a_write_is_seen_at_once_by_every_worker(own: tuple[Services, str]) -> None:
    """Right after each write (within its lease) and after the lease (when the reads are
    kept again), every worker answers with the write."""
    _, url = own
    _, auth = sign_up(url, "fresh@example.org")
    note = fresh(url, "POST", "/api/notes", auth, json={"title": "first"}).json()
    settle()
    for path in ("/api/users/me", "/api/notes?limit=25"):
        assert all(r.status_code == 200 for r in reads(url, path, auth))  # both warm

    r = fresh(url, "PATCH", "/api/users/me", auth, json={"display_name": "Renamed"})
    assert r.status_code == 200, r.text
    assert {r.json()["display_name"] for r in reads(url, "/api/users/me", auth)} == {"Renamed"}

    steps = [
        ("POST", "/api/notes", {"title": "second"}, 201, ("second", "first")),
        ("PATCH", f"/api/notes/{note['id']}", {"title": "edited"}, 200, ("second", "edited")),
        ("DELETE", f"/api/notes/{note['id']}", None, 204, ("second",)),
    ]
    for method, path, body, status, titles in steps:
        assert fresh(url, method, path, auth, json=body).status_code == status
        assert note_titles(url, auth) == {titles}, (method, "within the lease")
        settle()
        assert note_titles(url, auth) == {titles}, (method, "after the lease")


@pytest.mark.parametrize(
    ("hold", "flush"),
    [(0.3, False), (WRITE_LEASE + 0.8, False), (0.3, True)],
    ids=["quick", "past-the-lease", "redis-lost-meanwhile"],
)
def test_a_read_during_a_held_commit_is_not_kept(
    own: tuple[Services, str], hold: float, flush: bool
) -> None:
    """The race the lease is for: a note write's guard has moved the version, its INSERT
    waits (a test transaction holds its owner's row), and reads meanwhile read the old page
    under the new version. None of them may answer after the write has. Held past the lease,
    reads do keep the old page; the write, slow, then moves the version again before it
    answers. Redis losing its data meanwhile takes the write's stamp and version along: the
    reseed starts a lease of its own."""
    svc, url = own
    user_id, auth = sign_up(url, f"held{int(hold * 10)}{flush}@example.org")
    assert fresh(url, "POST", "/api/notes", auth, json={"title": "old"}).status_code == 201
    settle()
    assert note_titles(url, auth) == {("old",)}  # warm, every worker
    rd = redis.Redis.from_url(svc.redis.url)
    posted: list[tuple[httpx.Response, float]] = []

    def write() -> None:
        sent = time.monotonic()
        r = fresh(url, "POST", "/api/notes", auth, json={"title": "new"})
        posted.append((r, time.monotonic() - sent))

    stamp = rd.get(wrote_key(user_id))  # the first note's
    with psycopg.connect(svc.database_url) as lock:
        lock.execute("SELECT 1 FROM users WHERE id = %s FOR UPDATE", (user_id,))
        writer = threading.Thread(target=write)
        writer.start()
        deadline = time.monotonic() + 5
        while rd.get(wrote_key(user_id)) == stamp:  # its guard has run: the version moved
            assert time.monotonic() < deadline, "the write's guard did not run"
            time.sleep(0.01)
        assert rd.ttl(wrote_key(user_id)) == -1  # no TTL: volatile-ttl never evicts it
        if flush:
            rd.flushdb()
        started = time.monotonic()
        during: set[tuple[str, ...]] = set()
        while not during or time.monotonic() - started < hold:
            # PostgreSQL still has the old page; a few reads reach at least one worker.
            during.add(titles(fresh(url, "GET", PAGE, auth)))
        assert during == {("old",)} and writer.is_alive()
        lock.rollback()  # the INSERT goes on
    writer.join(10)
    assert posted and posted[0][0].status_code == 201, posted
    if hold < SLOW_WRITE:  # the write answered fast: nothing moved the version after it
        assert posted[0][1] < SLOW_WRITE, f"the write took {posted[0][1]:.2f} s"
    assert note_titles(url, auth) == {("new", "old")}


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
    control read shows the caches really were in the way before it)."""
    svc, url = own
    user_id, auth = sign_up(url, "edited@example.org")
    assert fresh(url, "POST", "/api/notes", auth, json={"title": "typed"}).status_code == 201
    settle()
    reads(url, "/api/users/me", auth)
    reads(url, "/api/notes?limit=25", auth)
    with psycopg.connect(svc.database_url, autocommit=True) as conn:
        conn.execute("UPDATE users SET display_name = 'By hand' WHERE email = 'edited@example.org'")
        conn.execute("UPDATE notes SET title = 'By hand' WHERE owner_id = %s", (user_id,))
    assert "By hand" not in {r.json()["display_name"] for r in reads(url, "/api/users/me", auth)}
    assert note_titles(url, auth) == {("typed",)}
    r = mainplatform("cache-reset", env=backend_env(svc), timeout=30)
    assert r.returncode == 0, r.stderr
    assert {r.json()["display_name"] for r in reads(url, "/api/users/me", auth)} == {"By hand"}
    assert note_titles(url, auth) == {("By hand",)}


def test_cache_reset_leaves_an_unseeded_redis_unseeded(own: tuple[Services, str]) -> None:
    """Marking Redis seeded without copying the revocations back would let revoked tokens
    through: on an emptied Redis, cache-reset writes nothing."""
    svc, _ = own
    rd = redis.Redis.from_url(svc.redis.url)
    rd.flushdb()
    r = mainplatform("cache-reset", env=backend_env(svc), timeout=30)
    assert r.returncode == 0 and "not seeded" in r.stdout, r
    assert not rd.exists(SEEDED)


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
        paths = ["/api/users/me", "/api/notes?limit=25"] * 6  # both caches, one budget
        codes = [fresh(url, "GET", path, auth).status_code for path in paths]
    finally:
        stop_process(proc)
    assert codes == [200] * 8 + [429] * 4, codes


def test_cache_keeps_to_its_capacity() -> None:
    cache: ReadCache[int, int] = ReadCache(10)
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
    off: ReadCache[int, int] = ReadCache(0)
    off.put(1, "v1", 1)
    assert off.get(1, "v1") is None and len(off) == 0


def test_an_entry_answers_for_its_ttl_only() -> None:
    cache: ReadCache[str, str] = ReadCache(10, ttl=0.2)
    cache.put("page", "v1", "old")
    assert cache.get("page", "v1") == "old"
    time.sleep(0.3)
    assert cache.get("page", "v1") is None and len(cache) == 0


# -- every write to what the cache holds moves the version ---------------------------------

WRITES = re.compile(r"\b(UPDATE|INSERT INTO|DELETE FROM) users\b")


NOTE_WRITES = re.compile(r"\b(UPDATE|INSERT INTO|DELETE FROM) notes\b")
Function = ast.FunctionDef | ast.AsyncFunctionDef


def functions() -> Iterator[tuple[Path, Function]]:
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, Function):
                yield path, node


def sql_of(node: ast.AST) -> str:
    return " ".join(
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    )


def calls_of(node: ast.AST) -> set[str]:
    return {
        n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", "")
        for n in ast.walk(node)
        if isinstance(n, ast.Call)
    }


def writers() -> list[tuple[str, str, bool]]:
    """(file, function, whether it calls ``changed``/``_data_changed``) for every function of
    the backend whose SQL writes users."""
    return [
        (path.name, node.name, bool(calls_of(node) & {"changed", "_data_changed"}))
        for path, node in functions()
        if WRITES.search(sql_of(node))
    ]


def test_notes_are_written_only_by_requests_that_move_the_version() -> None:
    """Nothing moves a version after a note write: its request's guard moved it before
    (any signed-in request but a GET). So SQL that writes notes lives in ``NotesService``
    alone, and only such operations call its writing methods. (Deleting an account deletes
    its notes too: a write of users, which moves the version after its commit.)"""
    from mainplatform.api.routes import OPERATIONS

    homes = {(p.name, f.name) for p, f in functions() if NOTE_WRITES.search(sql_of(f))}
    assert homes == {("notes.py", "create"), ("notes.py", "update"), ("notes.py", "delete")}
    callers = [
        op
        for op in OPERATIONS
        if calls_of(ast.parse(textwrap.dedent(inspect.getsource(op.handler))))
        & {"create", "update", "delete"}
        and "notes" in inspect.getsource(op.handler)
    ]
    assert len(callers) == 3, callers
    assert all(op.method != "GET" and op.auth == "user" for op in callers), callers


def test_every_write_of_a_user_row_moves_the_version() -> None:
    found = writers()
    assert len(found) >= 9, found  # the scan sees the writers (accounts, users, cli, ...)
    missing = [(f, fn) for f, fn, ok in found if not ok and fn != "migrate"]
    assert not missing, f"these write users without Cache.changed(): {missing}"
