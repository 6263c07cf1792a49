"""A/B benchmark: two or more versions of the backend side by side in one run. Prints
figures, asserts nothing.

    .venv/bin/python -m tests.benchmarks.ab before=HEAD~1 after=. [--endpoints me,notes]
    .venv/bin/python -m tests.benchmarks.ab log=. nolog=.:ACCESS_LOG=false

A variant is ``NAME=REV[:VAR=VALUE...]``: REV is a git revision (its ``backend/src`` is
extracted to a temporary directory), ``.`` for the working tree or the path of a copy of
``backend/src``, and each ``VAR=VALUE``
is added to that variant's environment. Every variant runs its own `mainplatform serve`
on its own database (same rows) against one PostgreSQL and one Redis; the rounds are
interleaved and the order alternates from round to round, so that drift on a shared machine
falls on every variant alike. For each endpoint and variant it prints the medians of
req/s, p99 and CPU ms per request (backend, PostgreSQL, Redis, total) as
tests.benchmarks.backend measures them, and each variant's PSS idle and after the load.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from mainplatform_dev.services import Postgres, Redis, free_port

from mainplatform.db import migrate
from tests.benchmarks.backend import (
    BENCH_ENV,
    POST_NOTE_LUA,
    Endpoint,
    Figures,
    drop_posted_notes,
    measure,
    medians,
    prepare,
    serve,
)
from tests.benchmarks.procfs import pss_mib
from tests.support import stop_process

ROOT = Path(__file__).resolve().parents[2]
IDLE_WAIT = 6.0  # seconds after the warm-up before the idle PSS: past one GAUGE_INTERVAL
ENDPOINTS = {
    "health": ("GET", "/api/health"),
    "me": ("GET", "/api/users/me"),
    "notes": ("GET", "/api/notes?limit=25"),
    "post": ("POST", "/api/notes"),
}


@dataclass
class Variant:
    name: str
    rev: str
    env: dict[str, str]
    src: Path = Path()
    database_url: str = ""
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    token: str = ""
    figures: dict[str, list[Figures]] = field(default_factory=dict)


def parse(spec: str) -> Variant:
    name, _, rest = spec.partition("=")
    rev, *pairs = rest.split(":")
    if not name or not rev or any("=" not in p for p in pairs):
        raise SystemExit(f"bad variant {spec!r}: NAME=REV[:VAR=VALUE...]")
    return Variant(name, rev, dict(p.split("=", 1) for p in pairs))


def source(rev: str, into: Path) -> Path:
    if rev == ".":
        return ROOT / "backend" / "src"
    if Path(rev).is_dir():  # a backend/src directory (an experiment outside git)
        return Path(rev).resolve()
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "backend/src"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "backend" / "src"


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("variants", nargs="+", help="NAME=REV[:VAR=VALUE...]")
    ap.add_argument("--endpoints", default="health,me,notes,post")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--duration", type=int, default=6)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    variants = [parse(s) for s in args.variants]
    chosen = args.endpoints.split(",")
    if unknown := set(chosen) - ENDPOINTS.keys():
        raise SystemExit(f"unknown endpoints {sorted(unknown)}; choose from {sorted(ENDPOINTS)}")

    base = Path(tempfile.mkdtemp(prefix="mainplatform-ab-"))
    base.chmod(0o711)
    pg = Postgres(base / "pg").start()
    rd = Redis(base / "redis").start()
    post_lua = base / "post.lua"
    post_lua.write_text(POST_NOTE_LUA)
    try:
        for i, v in enumerate(variants):
            v.src = source(v.rev, base / f"src{i}")
            v.database_url = pg.create_database(f"ab{i}")
            migrate(v.database_url)
            v.port = free_port()
            env = {
                **os.environ,
                **BENCH_ENV,
                "PYTHONPATH": str(v.src),
                "DATABASE_URL": pg.socket_url_for(f"ab{i}"),
                "REDIS_URL": rd.socket_url.replace("db=0", f"db={i}"),
                "JWT_SECRET": secrets.token_urlsafe(48),
                **v.env,
            }
            cmd = [sys.executable, "-m", "mainplatform", "serve", "--workers", str(args.workers)]
            cmd += ["--host", "127.0.0.1", "--port", str(v.port)]
            v.proc = serve(cmd, env, v.port, base / f"{v.name}.log")
            v.token = prepare(f"http://127.0.0.1:{v.port}", args.workers)
        time.sleep(IDLE_WAIT)
        idle = {v.name: pss_mib(v.proc.pid) for v in variants if v.proc is not None}
        assert rd.proc is not None
        trees = {"postgres": pg.pid, "redis": rd.proc.pid}
        for r in range(args.rounds):
            order = variants if r % 2 == 0 else variants[::-1]
            for key in chosen:
                method, path = ENDPOINTS[key]
                for v in order:
                    assert v.proc is not None
                    e = Endpoint(
                        key,
                        f"http://127.0.0.1:{v.port}{path}",
                        {"Authorization": f"Bearer {v.token}"} if key != "health" else {},
                        post_lua if method == "POST" else None,
                        backend_pid=v.proc.pid,
                    )
                    f = measure(e, trees, args.duration, args.connections, args.threads)
                    v.figures.setdefault(key, []).append(f)
                    if method == "POST":
                        drop_posted_notes(v.database_url)
        print(
            f"\nworkers={args.workers} duration={args.duration}s connections={args.connections} "
            f"rounds={args.rounds} (medians, interleaved)"
        )
        print(
            f"{'endpoint':<10} {'variant':<14} {'req/s':>8} {'p99 ms':>7} {'err':>5}"
            f"  CPU ms/request: {'backend':>8} {'pg':>6} {'redis':>6} {'total':>6}"
        )
        for key in chosen:
            for v in variants:
                m = medians(v.figures[key])
                print(
                    f"{key:<10} {v.name:<14} {m['rps']:>8.0f} {m['p99']:>7.1f} {m['errors']:>5.0f}"
                    f"                  {m['backend']:>8.3f} {m['postgres']:>6.3f}"
                    f" {m['redis']:>6.3f} {m['total']:>6.3f}"
                )
        for v in variants:
            assert v.proc is not None
            print(
                f"PSS {v.name}: idle {idle[v.name]:.1f} MiB,"
                f" after load {pss_mib(v.proc.pid):.1f} MiB"
            )
        return 0
    finally:
        for v in variants:
            if v.proc is not None:
                stop_process(v.proc)
        rd.stop()
        pg.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
