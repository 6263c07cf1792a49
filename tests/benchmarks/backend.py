"""Backend benchmark: prints figures, asserts nothing.

    .venv/bin/python -m tests.benchmarks.backend [--workers 2] [--duration 8] [--rounds 3]
                                                  [--profile DIR]

Starts throwaway PostgreSQL and Redis, our backend (`mainplatform serve`, access log on) and a
bare Starlette app with the same uvicorn settings, then drives them with wrk on loopback:
GET /api/health (ours and bare), authenticated GET /api/users/me, GET /api/notes?limit=25 and
POST /api/notes, the bare app's POST /api/notes (one Redis script and one INSERT with the same
drivers, nothing else: the floor under ours), and /api/health latency while a second wrk
hammers POST /api/auth/login.

For each endpoint it prints req/s, p50/p99 and the CPU time per request of the backend, of
PostgreSQL and of Redis (from /proc: user + system time of each process tree over the run,
divided by the requests wrk completed), the median of `--rounds` rounds; and the PSS of the
backend's workers, idle and after the load. CPU per request and PSS are what to compare
across runs (they hold on a shared machine); req/s and latency move with it.

With `--profile DIR`, every endpoint also runs once under py-spy (one worker sampled, native
frames off), which writes DIR/<endpoint>.txt (collapsed stacks) and prints where that worker's
samples go (tests/benchmarks/profile.py).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import psycopg
from mainplatform_dev.services import Postgres, Redis, free_port

from mainplatform.db import migrate
from tests.benchmarks import profile
from tests.benchmarks.procfs import cpu_seconds, pss_mib
from tests.support import STRONG_PASSWORD, stop_process, wait_http
from tests.support.processes import worker_pids

HERE = Path(__file__).resolve().parent
# The backend's settings in every benchmark: access log on, limits too high to be reached.
BENCH_ENV = {
    "COOKIE_SECURE": "false",
    "LOG_LEVEL": "INFO",
    "ACCESS_LOG": "true",
    "RATE_LIMIT_API": "100000000/minute",
    "RATE_LIMIT_LOGIN_ACCOUNT": "100000000/minute",
    "RATE_LIMIT_LOGIN_DEVICE": "100000000/minute",
    "RATE_LIMIT_LOGIN_IP": "100000000/minute",
    "DB_POOL_MAX": "10",
}


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip()).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    url: str,
    duration: int,
    connections: int,
    threads: int,
    headers: dict[str, str],
    script: Path | None = None,
) -> Result:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        "5s",
    ]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=duration + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(x) for x in m.groups())
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return Result(rps, p50, p99, errors, requests)


def serve(cmd: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    wait_http(f"http://127.0.0.1:{port}/api/health", proc=proc)
    return proc


BENCH_EMAIL = "bench@example.org"
POST_NOTE_LUA = (
    'wrk.method = "POST"\n'
    'wrk.body = \'{"title": "bench", "body": "hello"}\'\n'
    'wrk.headers["Content-Type"] = "application/json"\n'
)


def prepare(api: str, workers: int) -> str:
    """The benchmark's account with 25 notes, every worker warmed up on the endpoints that
    read them (before any idle figure); returns its access token."""
    with httpx.Client(base_url=api) as http:
        creds = {"email": BENCH_EMAIL, "password": STRONG_PASSWORD}
        http.post("/api/auth/register", json=creds)
        token: str = http.post("/api/auth/login", json=creds).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        for i in range(25):
            http.post("/api/notes", json={"title": f"note {i}", "body": "x" * 200}, headers=auth)
        for _ in range(20 * workers):
            http.get("/api/notes?limit=25", headers=auth)
            http.get("/api/users/me", headers=auth)
    return token


def drop_posted_notes(database_url: str) -> None:
    """Back to the 25 notes of ``prepare`` after a POST run, vacuumed: the next round's list
    then reads the same table, and no autovacuum of the run's inserts lands in its figures."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM notes WHERE id NOT IN (SELECT id FROM notes ORDER BY id LIMIT 25)"
        )
        conn.execute("VACUUM ANALYZE notes")


@dataclass(frozen=True)
class Endpoint:
    name: str
    url: str
    headers: dict[str, str]
    script: Path | None = None
    backend_pid: int = 0


@dataclass
class Figures:
    """One endpoint in one round."""

    result: Result
    cpu_ms: dict[str, float]  # CPU per request, by process tree


def measure(e: Endpoint, trees: dict[str, int], d: int, c: int, t: int) -> Figures:
    trees = {**trees, "backend": e.backend_pid}
    before = {k: cpu_seconds(pid) for k, pid in trees.items()}
    r = wrk(e.url, d, c, t, e.headers, e.script)
    after = {k: cpu_seconds(pid) for k, pid in trees.items()}
    n = max(r.requests, 1)
    return Figures(r, {k: (after[k] - before[k]) / n * 1000 for k in trees})


def medians(fs: list[Figures]) -> dict[str, float]:
    """One endpoint's rounds: medians of req/s, p50, p99 and CPU per request by process
    tree and in total; the errors summed."""
    m = {
        "rps": statistics.median([f.result.rps for f in fs]),
        "p50": statistics.median([f.result.p50_ms for f in fs]),
        "p99": statistics.median([f.result.p99_ms for f in fs]),
        "errors": sum(f.result.errors for f in fs),
        **{
            k: statistics.median([f.cpu_ms[k] for f in fs])
            for k in ("backend", "postgres", "redis")
        },
    }
    m["total"] = statistics.median([sum(f.cpu_ms.values()) for f in fs])
    return m


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3, help="rounds; medians are printed")
    ap.add_argument("--profile", type=Path, help="also profile each endpoint with py-spy here")
    ap.add_argument(
        "--transport",
        choices=["unix", "tcp"],
        default="unix",
        help="how the backend reaches PostgreSQL and Redis: Unix sockets, as on the NixOS "
        "host (default), or TCP on loopback",
    )
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt install wrk)", file=sys.stderr)
        return 2

    base = Path(tempfile.mkdtemp(prefix="mainplatform-bench-"))
    base.chmod(0o711)
    pg = Postgres(base / "pg").start()
    rd = Redis(base / "redis").start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        url = pg.create_database("bench")
        migrate(url)
        if args.transport == "unix":
            url = pg.socket_url_for("bench")
        port, bare_port = free_port(), free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "REDIS_URL": rd.socket_url if args.transport == "unix" else rd.url,
            "JWT_SECRET": secrets.token_urlsafe(48),
            **BENCH_ENV,
        }
        serve_args = ["--workers", str(args.workers), "--host", "127.0.0.1", "--port", str(port)]
        ours = serve(
            [sys.executable, "-m", "mainplatform", "serve", *serve_args],
            env,
            port,
            base / "backend.log",
        )
        procs.append(ours)
        # The same server code and settings as ours (uvicorn + uvloop + httptools, one
        # SO_REUSEPORT socket per worker); only the app differs.
        bare_cmd = (
            "import sys; from mainplatform import server; "
            "sys.exit(server.run('tests.benchmarks.bare_app:app', "
            f"'127.0.0.1', {bare_port}, {args.workers}))"
        )
        bare = serve([sys.executable, "-c", bare_cmd], env, bare_port, base / "bare.log")
        procs.append(bare)
        api = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {prepare(api, args.workers)}"}
        time.sleep(1)
        idle_pss = pss_mib(ours.pid)

        post_lua = base / "post.lua"
        post_lua.write_text(POST_NOTE_LUA)
        login_lua = base / "login.lua"
        login_lua.write_text(
            'wrk.method = "POST"\n'
            f'wrk.body = \'{{"email": "{BENCH_EMAIL}", "password": "{STRONG_PASSWORD}"}}\'\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
        endpoints = [
            Endpoint(
                "bare Starlette GET /api/health",
                f"http://127.0.0.1:{bare_port}/api/health",
                {},
                backend_pid=bare.pid,
            ),
            Endpoint("GET /api/health", f"{api}/api/health", {}, backend_pid=ours.pid),
            Endpoint("GET /api/users/me", f"{api}/api/users/me", auth, backend_pid=ours.pid),
            Endpoint(
                "GET /api/notes?limit=25", f"{api}/api/notes?limit=25", auth, backend_pid=ours.pid
            ),
            Endpoint("POST /api/notes", f"{api}/api/notes", auth, post_lua, backend_pid=ours.pid),
            Endpoint(
                "bare: 1 Redis script + 1 INSERT",
                f"http://127.0.0.1:{bare_port}/api/notes",
                {},
                post_lua,
                backend_pid=bare.pid,
            ),
        ]
        assert rd.proc is not None
        trees = {"postgres": pg.pid, "redis": rd.proc.pid}
        d, c, t = args.duration, args.connections, args.threads
        rounds: dict[str, list[Figures]] = {e.name: [] for e in endpoints}
        for _ in range(args.rounds):
            for e in endpoints:
                rounds[e.name].append(measure(e, trees, d, c, t))
                if e.script is post_lua:
                    drop_posted_notes(url)
        busy_pss = pss_mib(ours.pid)

        spy_program = shutil.which("py-spy") or shutil.which(
            "py-spy", path=str(Path(sys.executable).parent)
        )
        if args.profile and spy_program is None:
            print("--profile needs py-spy (pip install py-spy); not profiling", file=sys.stderr)
        elif args.profile and spy_program is not None:
            args.profile.mkdir(parents=True, exist_ok=True)
            for e in endpoints:
                out = args.profile / (re.sub(r"[^A-Za-z0-9]+", "-", e.name).strip("-") + ".txt")
                worker = worker_pids(e.backend_pid)[0]
                spy = subprocess.Popen(
                    [
                        spy_program,
                        "record",
                        "--format",
                        "raw",
                        "--rate",
                        "250",
                        "--nonblocking",
                        "--duration",
                        str(d),
                        "--output",
                        str(out),
                        "--pid",
                        str(worker),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
                wrk(e.url, d, c, t, e.headers, e.script)
                _, spy_err = spy.communicate(timeout=d + 30)
                if spy.returncode != 0:
                    print(
                        f"py-spy failed: {spy_err.decode(errors='replace')[-500:]}", file=sys.stderr
                    )
                cpu = statistics.median([f.cpu_ms["backend"] for f in rounds[e.name]])
                print(f"\n## profile: {e.name} (one worker; {out})")
                print(profile.table(profile.load(out), cpu))

        storm: dict[str, Result] = {}

        def hammer() -> None:
            storm["login"] = wrk(f"{api}/api/auth/login", d + 2, 16, 1, {}, login_lua)

        thread = threading.Thread(target=hammer)
        thread.start()
        health_under_storm = wrk(f"{api}/api/health", d, 8, 1, {})
        thread.join()

        print(
            f"\nworkers={args.workers} duration={d}s connections={c} wrk threads={t} "
            f"cores={os.cpu_count()} rounds={args.rounds} (medians) "
            f"PostgreSQL/Redis over {args.transport}"
        )
        print(
            f"{'endpoint':<32} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'err':>5}"
            f"  CPU ms/request: {'backend':>8} {'pg':>6} {'redis':>6} {'total':>6}"
        )
        med: dict[str, dict[str, float]] = {}
        for e in endpoints:
            m = med[e.name] = medians(rounds[e.name])
            print(
                f"{e.name:<32} {m['rps']:>8.0f} {m['p50']:>7.2f} {m['p99']:>7.2f} "
                f"{m['errors']:>5.0f}                  {m['backend']:>8.3f} {m['postgres']:>6.3f} "
                f"{m['redis']:>6.3f} {m['total']:>6.3f}"
            )
        r = storm["login"]
        print(
            f"{'POST /api/auth/login (storm)':<32} {r.rps:>8.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f}"
        )
        r = health_under_storm
        print(
            f"{'GET /api/health during storm':<32} {r.rps:>8.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f}"
        )
        ratio = med["GET /api/health"]["rps"] / med["bare Starlette GET /api/health"]["rps"]
        print(f"\n/api/health vs bare Starlette: {ratio:.2f}x   (target >= 0.85)")
        floor = med["bare: 1 Redis script + 1 INSERT"]["total"]
        print(f"POST /api/notes floor (bare app, same round trips): {floor:.3f} ms CPU/request")
        for name in ("GET /api/users/me", "GET /api/notes?limit=25", "POST /api/notes"):
            m = med[name]
            print(
                f"{name:<24} {m['total']:.3f} ms CPU/request (target <= 0.30), "
                f"p99 {m['p99']:.1f} ms (target <= 30)"
            )
        print(
            f"backend PSS ({args.workers} workers + supervisor): idle {idle_pss:.1f} MiB "
            f"(target <= 100), after load {busy_pss:.1f} MiB"
        )
        return 0
    finally:
        for p in procs:
            stop_process(p)
        rd.stop()
        pg.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
