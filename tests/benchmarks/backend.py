"""Backend benchmark: prints figures, asserts nothing.

    .venv/bin/python -m tests.benchmarks.backend [--workers 2] [--duration 8]

Starts throwaway PostgreSQL and Redis, our backend (`mainplatform serve`, access log on) and a
bare Starlette app with the same uvicorn settings, then drives them with wrk on loopback:
GET /api/health (ours and bare), authenticated GET /api/notes, POST /api/notes, and
/api/health latency while a second wrk hammers POST /api/auth/login. Ratios within one run are
what to compare; absolute numbers move with the machine.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
from mainplatform_dev.services import Postgres, Redis, free_port

from mainplatform.db import migrate
from tests.support import STRONG_PASSWORD, stop_process, wait_http

HERE = Path(__file__).resolve().parent


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


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
    return Result(rps, p50, p99, errors)


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MiB."""
    total = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
            for task in Path(f"/proc/{p}/task").iterdir():
                children = (task / "children").read_text().split()
                stack.extend(int(c) for c in children)
        except (OSError, AttributeError):
            continue
    return total / 1024


def serve(cmd: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    wait_http(f"http://127.0.0.1:{port}/api/health", proc=proc)
    return proc


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
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
        port, bare_port = free_port(), free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "REDIS_URL": rd.url,
            "JWT_SECRET": secrets.token_urlsafe(48),
            "COOKIE_SECURE": "false",
            "LOG_LEVEL": "INFO",
            "ACCESS_LOG": "true",
            "RATE_LIMIT_API": "100000000/minute",
            "RATE_LIMIT_LOGIN_ACCOUNT": "100000000/minute",
            "RATE_LIMIT_LOGIN_DEVICE": "100000000/minute",
            "RATE_LIMIT_LOGIN_IP": "100000000/minute",
            "DB_POOL_MAX": "10",
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
        with httpx.Client(base_url=api) as http:
            http.post(
                "/api/auth/register",
                json={"email": "bench@example.org", "password": STRONG_PASSWORD},
            )
            token = http.post(
                "/api/auth/login", json={"email": "bench@example.org", "password": STRONG_PASSWORD}
            ).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            for i in range(25):
                http.post(
                    "/api/notes", json={"title": f"note {i}", "body": "x" * 200}, headers=auth
                )
        idle_rss = rss_mb(ours.pid)

        post_lua = base / "post.lua"
        post_lua.write_text(
            'wrk.method = "POST"\n'
            'wrk.body = \'{"title": "bench", "body": "hello"}\'\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
        login_lua = base / "login.lua"
        login_lua.write_text(
            'wrk.method = "POST"\n'
            f'wrk.body = \'{{"email": "bench@example.org", "password": "{STRONG_PASSWORD}"}}\'\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
        d, c, t = args.duration, args.connections, args.threads
        bare_health = wrk(f"http://127.0.0.1:{bare_port}/api/health", d, c, t, {})
        health = wrk(f"{api}/api/health", d, c, t, {})
        notes_get = wrk(f"{api}/api/notes", d, c, t, auth)
        notes_post = wrk(f"{api}/api/notes", d, c, t, auth, post_lua)
        busy_rss = rss_mb(ours.pid)

        storm: dict[str, Result] = {}

        def hammer() -> None:
            storm["login"] = wrk(f"{api}/api/auth/login", d + 2, 16, 1, {}, login_lua)

        thread = threading.Thread(target=hammer)
        thread.start()
        health_under_storm = wrk(f"{api}/api/health", d, 8, 1, {})
        thread.join()

        def row(name: str, r: Result) -> None:
            print(f"{name:<34} {r.rps:>10.0f} {r.p50_ms:>9.2f} {r.p99_ms:>9.2f} {r.errors:>7}")

        print(
            f"\nworkers={args.workers} duration={d}s connections={c} "
            f"wrk threads={t} cores={os.cpu_count()}"
        )
        print(f"{'endpoint':<34} {'req/s':>10} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7}")
        row("bare Starlette GET /api/health", bare_health)
        row("GET /api/health", health)
        row("GET /api/notes (authenticated)", notes_get)
        row("POST /api/notes (authenticated)", notes_post)
        row("POST /api/auth/login (storm)", storm["login"])
        row("GET /api/health during login storm", health_under_storm)
        print(
            "\n/api/health vs bare Starlette:      "
            f"{health.rps / bare_health.rps:.2f}x   (target >= 0.7)"
        )
        print(
            "GET /api/notes vs our /api/health:  "
            f"{notes_get.rps / health.rps:.2f}x   (target >= 0.3)"
        )
        print(
            f"/api/health p99 during login storm: {health_under_storm.p99_ms:.2f} ms (target < 20)"
        )
        print(f"backend RSS (all workers): idle {idle_rss:.0f} MiB, after load {busy_rss:.0f} MiB")
        return 0
    finally:
        for p in procs:
            stop_process(p)
        rd.stop()
        pg.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
