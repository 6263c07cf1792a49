"""The real Traefik accepts the configuration the module gives it without ACME
(modules/lib.nix traefikStatic/traefikDynamic with acme = false, the file
provider on the dynamic file as nixpkgs' traefik module sets it) and then serves HTTPS
with the given certificate, routes `/` and `/api` to their upstreams, does not
route `/metrics` and redirects HTTP to HTTPS. Ports are moved to free loopback
ports through the module's `settings` overrides; everything else is as on the host.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.nix import module_lib, to_nix
from tests.support.processes import free_ports, wait_until
from tests.support.programs import require_program
from tests.support.web import require_traefik, traefik_running

DOMAIN = "platform.test"


class _Upstream(BaseHTTPRequestHandler):
    server: Any

    def do_GET(self) -> None:
        body = json.dumps({"upstream": self.server.name, "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _upstream(name: str, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Upstream)
    server.name = name  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class _SNIConnection(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 with the SNI and certificate check of DOMAIN."""

    def __init__(self, port: int, context: ssl.SSLContext) -> None:
        super().__init__("127.0.0.1", port, timeout=5, context=context)
        self._ctx = context

    def connect(self) -> None:
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.sock = self._ctx.wrap_socket(raw, server_hostname=DOMAIN)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    require_traefik()
    openssl = require_program("openssl", why="apt-get install openssl")
    d = tmp_path_factory.mktemp("module-traefik")
    cert, key = d / "tls.crt", d / "tls.key"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", f"/CN={DOMAIN}",
         "-addext", f"subjectAltName=DNS:{DOMAIN}", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    web, websecure, metrics, backend, frontend = free_ports(5)
    overrides = {
        "publicAddress": "127.0.0.1",
        "ports": {
            "web": web,
            "websecure": websecure,
            "traefikMetrics": metrics,
            "backend": backend,
            "frontend": frontend,
        },
    }
    rendered = module_lib(
        f'let s = m.hostSettings {{ domain = "{DOMAIN}"; acmeEmail = "ops@{DOMAIN}";'
        f' acmeStorage = "{d}/acme.json"; grafanaDashboards = null;'
        f" settings = {to_nix(overrides)}; }}; in {{"
        " static = m.traefikStatic { settings = s; acme = false; };"
        " dynamic = m.traefikDynamic { settings = s;"
        f' certificate = {{ certFile = "{cert}"; keyFile = "{key}"; }}; }}; }}'
    )
    static = rendered["static"]
    # What nixpkgs' traefik module adds (providers.file.filename, its dynamic file):
    static["providers"] = {"file": {"filename": str(d / "dynamic.yml")}}

    servers = [_upstream("backend", backend), _upstream("frontend", frontend)]
    context = ssl.create_default_context(cafile=str(cert))
    try:
        with traefik_running(d, static, rendered["dynamic"]) as edge:
            wait_until(
                lambda: _get(websecure, context, "/api/health")[0] == 200,
                timeout=30,
                what="Traefik routing /api over HTTPS",
                detail=edge.log_tail,
            )
            yield {"web": web, "websecure": websecure, "context": context, "static": static}
    finally:
        for server in servers:
            server.shutdown()


def _get(port: int, context: ssl.SSLContext, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = _SNIConnection(port, context)
    try:
        conn.request("GET", path, headers={"Host": DOMAIN})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_no_acme_anywhere(site: dict[str, Any]) -> None:
    text = json.dumps(site["static"])
    assert "certificatesResolvers" not in text and "certResolver" not in text


def test_https_with_the_given_certificate_routes_the_api(site: dict[str, Any]) -> None:
    status, headers, body = _get(site["websecure"], site["context"], "/api/health")
    assert status == 200
    assert json.loads(body) == {"upstream": "backend", "path": "/api/health"}
    assert "strict-transport-security" in headers


def test_root_goes_to_the_frontend(site: dict[str, Any]) -> None:
    status, _, body = _get(site["websecure"], site["context"], "/notes")
    assert status == 200
    assert json.loads(body)["upstream"] == "frontend"


def test_metrics_is_not_routed(site: dict[str, Any]) -> None:
    status, _, body = _get(site["websecure"], site["context"], "/metrics")
    assert status == 404
    assert b"upstream" not in body


def test_http_redirects_to_https(site: dict[str, Any]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", site["web"], timeout=5)
    try:
        conn.request("GET", "/notes", headers={"Host": DOMAIN})
        response = conn.getresponse()
        assert response.status in (301, 308)
        assert (response.getheader("Location") or "").startswith(f"https://{DOMAIN}")
    finally:
        conn.close()


def test_the_module_files_are_where_the_test_says(site: dict[str, Any]) -> None:
    assert Path(site["static"]["providers"]["file"]["filename"]).is_file()
