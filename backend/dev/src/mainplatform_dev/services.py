"""Throwaway PostgreSQL and Redis servers on loopback, from the binaries on this machine.

Used by ``mainplatform dev`` and by the test fixtures, so both start the services the same way.
Nothing here is for production: there, the NixOS module runs the real services.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shlex
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from mainplatform.programs import ProgramNotFound, find_program


class ServiceError(ProgramNotFound):
    """A throwaway service could not be started (or its program is missing); says why."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def dev_secrets(state: Path) -> dict[str, str]:
    """Development secrets, generated on first use and kept in ``state/secrets.env`` (0600)."""
    path = state / "secrets.env"
    if not path.exists():
        path.write_text(
            f"JWT_SECRET={secrets.token_urlsafe(48)}\n"
            f"GRAFANA_ADMIN_PASSWORD={secrets.token_urlsafe(18)}\n",
            encoding="utf-8",
        )
        path.chmod(0o600)
    pairs = (line.partition("=") for line in path.read_text(encoding="utf-8").splitlines())
    return {k.strip(): v.strip() for k, _, v in pairs if k and v}


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _unprivileged_user() -> str | None:
    """PostgreSQL refuses to run as root; run it as 'postgres' (or 'nobody') then."""
    if os.geteuid() != 0:
        return None
    for name in (os.environ.get("MAINPLATFORM_PG_USER", ""), "postgres", "nobody"):
        if not name:
            continue
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise ServiceError("running as root and no 'postgres' or 'nobody' user to run PostgreSQL as")


def _wait_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_in_use(port):
            return
        if proc is not None and proc.poll() is not None:
            raise ServiceError(f"the process exited with code {proc.returncode} before listening")
        time.sleep(0.05)
    raise ServiceError(f"nothing listened on 127.0.0.1:{port} within {timeout:.0f} s")


@dataclass
class Postgres:
    """A PostgreSQL cluster in ``directory``; ``initdb`` on first use, data kept across runs."""

    directory: Path
    port: int = 0
    fast: bool = True  # fsync off: for tests and local use only
    user: str | None = field(default_factory=_unprivileged_user)
    # More server settings (-c name=value), e.g. archive_mode and archive_command.
    settings: dict[str, str] = field(default_factory=dict)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        cmd = list(args)
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, timeout=120)  # noqa: S603

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def pid(self) -> int:
        """The postmaster's process id (its children are the server's other processes)."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def socket_url_for(self, database: str) -> str:
        """The same database over the server's Unix socket (as the NixOS host connects)."""
        return f"postgresql://postgres@/{database}?host={self.directory / 'run'}&port={self.port}"

    def start(self, timeout: float = 60.0) -> Postgres:
        if not self.port:
            self.port = free_port()
        elif port_in_use(self.port):
            raise ServiceError(f"port {self.port} (PostgreSQL) is already in use")
        self.directory.mkdir(parents=True, exist_ok=True)
        sockets = self.directory / "run"
        sockets.mkdir(exist_ok=True)
        if self.user:
            pw = pwd.getpwnam(self.user)
            for path in (self.directory, sockets):
                os.chown(path, pw.pw_uid, pw.pw_gid)
            if self._run("test", "-w", str(self.directory), check=False).returncode != 0:
                raise ServiceError(
                    f"PostgreSQL runs as '{self.user}' here (it refuses to run as root) and "
                    f"cannot reach {self.directory}: a parent directory is private. Put the "
                    "state directory somewhere it can traverse (e.g. --state /var/tmp/mainplatform)"
                )
        if not (self.data / "PG_VERSION").exists():
            result = self._run(
                find_program("initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                check=False,
            )
            if result.returncode != 0:
                raise ServiceError(
                    "initdb failed: " + result.stderr.decode(errors="replace")[-500:]
                )
        options = f"-p {self.port} -k {sockets} -c listen_addresses=127.0.0.1"
        if self.fast:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        options += "".join(f" -c {shlex.quote(f'{k}={v}')}" for k, v in self.settings.items())
        result = self._run(
            find_program("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.directory / "postgres.log"),
            "-o",
            options,
            "-w",
            "-t",
            str(int(timeout)),
            "start",
            check=False,
        )
        if result.returncode != 0:
            log = self.directory / "postgres.log"
            tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
            raise ServiceError(
                f"PostgreSQL did not start: {result.stderr.decode(errors='replace')}{tail}"
            )
        return self

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(
                find_program("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False
            )

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)


@dataclass
class Redis:
    """A ``redis-server`` on loopback; with ``persist`` it keeps an append-only file."""

    directory: Path
    port: int = 0
    persist: bool = False
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def socket_url(self) -> str:
        """The same server over its Unix socket (as the NixOS host connects)."""
        return f"unix://{self.directory / 'redis.sock'}?db=0"

    def start(self, timeout: float = 20.0) -> Redis:
        if not self.port:
            self.port = free_port()
        elif port_in_use(self.port):
            raise ServiceError(f"port {self.port} (Redis) is already in use")
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            find_program("redis-server"),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--protected-mode",
            "yes",
            "--appendonly",
            "yes" if self.persist else "no",
            "--daemonize",
            "no",
            "--logfile",
            str(self.directory / "redis.log"),
            "--unixsocket",
            str(self.directory / "redis.sock"),
            "--unixsocketperm",
            "700",
        ]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        try:
            _wait_port(self.port, timeout, self.proc)
        except ProgramNotFound as exc:
            self.stop()
            raise ServiceError(f"Redis did not start: {exc}") from None
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
