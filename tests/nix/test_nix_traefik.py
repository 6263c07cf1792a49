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
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.headers import api_headers, frontend_headers
from tests.support.layout import WEB_ROOT
from tests.support.nix import render_traefik
from tests.support.processes import free_ports, wait_until
from tests.support.web import http_get, nginx_running, require_traefik, traefik_running

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


# --- Traefik ------------------------------------------------------------------


# --- the tests ---------------------------------------------------------------


def test_traefik_routes_the_platform_locally(backend: StandIn, tmp_path: Path) -> None:
    require_traefik()
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
    static, dynamic, _ = render_traefik(settings)
    base = f"http://127.0.0.1:{web}"
    host = {"Host": "localhost"}

    marker = (WEB_ROOT / "index.html").read_text(encoding="utf-8")[:200]

    with (
        nginx_running(port=frontend),
        traefik_running(tmp_path, static, dynamic) as edge,
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

        assert edge.errors() == [], edge.log_tail()


def test_traefik_production_redirects_and_sets_hsts(backend: StandIn, tmp_path: Path) -> None:
    """Production config on loopback ports. ACME is taken out (no network here):
    Traefik serves its default certificate instead."""
    require_traefik()
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
    static, dynamic, _ = render_traefik(settings)
    # Test-only changes: no Let's Encrypt, so no resolver; no strict SNI for
    # the default certificate. Everything else is as rendered.
    del static["certificatesResolvers"]
    del static["entryPoints"]["websecure"]["http"]["tls"]["certResolver"]
    for router in dynamic["http"]["routers"].values():
        router["tls"] = {}
    dynamic["tls"]["options"]["default"]["sniStrict"] = False

    with (
        nginx_running(port=frontend),
        traefik_running(tmp_path, static, dynamic) as edge,
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
        assert edge.errors() == [], edge.log_tail()
