"""``mainplatform dev`` (also ``mainplatform-dev``): the platform on loopback."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from mainplatform.cli import cmd_serve
from mainplatform.config import Settings
from mainplatform.programs import ProgramNotFound

DEFAULT_API_PORT: int = Settings.default("port")  # --backend-only


def _fail(message: str) -> int:
    print(f"mainplatform dev: {message}", file=sys.stderr)
    return 2


def cmd_dev(args: argparse.Namespace) -> int:
    """The platform on loopback: the whole stack, or with --backend-only just the API."""
    if not args.backend_only:
        from mainplatform_dev import stack

        try:
            root = stack.project_root()
        except ProgramNotFound as exc:
            return _fail(str(exc))
        state = Path(args.state or root / ".state" / "stack").resolve()
        return stack.run_forever(
            stack.Stack(root, state, auto_ports=args.ports == "auto", workers=args.workers)
        )
    return _backend_only(args, Path(args.state or ".state/dev").resolve())


def _backend_only(args: argparse.Namespace, state: Path) -> int:
    from mainplatform.db import migrate
    from mainplatform_dev.services import Postgres, Redis, dev_secrets, free_port
    from mainplatform_dev.stack import smtp_answers

    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o711)
    postgres = Postgres(state / "postgres")
    redis = Redis(state / "redis", persist=True)
    mail_dir, smtp_port = state / "mail", free_port()
    sink: subprocess.Popen[bytes] | None = None
    try:
        sink = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [sys.executable, "-m", "mainplatform_dev.mailsink", "--port", str(smtp_port),
             "--dir", str(mail_dir)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not smtp_answers(smtp_port) and time.monotonic() < deadline:
            time.sleep(0.05)
        print(f"starting PostgreSQL in {postgres.directory} ...", flush=True)
        postgres.start()
        print(f"starting Redis in {redis.directory} ...", flush=True)
        redis.start()
        database_url = postgres.create_database("mainplatform")
        applied = migrate(database_url)
        print(f"migrations: {', '.join(applied) or 'up to date'}", flush=True)
        os.environ.update(
            {
                "DATABASE_URL": database_url,
                "REDIS_URL": redis.url,
                "COOKIE_SECURE": "false",
                "JWT_SECRET": dev_secrets(state)["JWT_SECRET"],
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": str(smtp_port),
                "SMTP_TLS": "NONE",
                "PUBLIC_URL": f"http://127.0.0.1:{args.port}",
            }
        )
        print(
            f"\nMain Platform API on http://127.0.0.1:{args.port}/api  (metrics: /metrics)\n"
            f"PostgreSQL {database_url}\nRedis {redis.url}\nstate: {state}\n"
            f"mail: {mail_dir}/*.eml (no frontend here: the links in them need the full stack)\n"
            "Ctrl-C stops everything; the data stays for the next run.\n",
            flush=True,
        )
        serve = argparse.Namespace(workers=args.workers, host="127.0.0.1", port=args.port)
        return cmd_serve(serve)
    except ProgramNotFound as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 0
    finally:
        if sink is not None:
            sink.terminate()
            sink.wait(5)
        redis.stop()
        postgres.stop()


def parser() -> argparse.ArgumentParser:
    d = argparse.ArgumentParser(
        prog="mainplatform dev",
        description="The whole platform on loopback: Traefik, nginx, the API, PostgreSQL, Redis, "
        "Prometheus and Grafana.",
    )
    d.add_argument("--state", default=None, help="state directory (default: .state/stack)")
    d.add_argument("--workers", type=int, default=2, help="backend workers (default: 2)")
    d.add_argument(
        "--ports",
        choices=["default", "auto"],
        default="default",
        help="'auto' picks free ports instead of the defaults from nix/lib",
    )
    d.add_argument(
        "--backend-only",
        action="store_true",
        help="only PostgreSQL, Redis and the API (state: .state/dev)",
    )
    d.add_argument(
        "--port", type=int, default=DEFAULT_API_PORT, help="API port with --backend-only"
    )
    return d


def main(argv: list[str] | None = None) -> int:
    return cmd_dev(parser().parse_args(argv))
