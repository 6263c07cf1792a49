"""Automatic HTTPS for real: Traefik with the static and dynamic configuration nix/lib renders
for production obtains a certificate from pebble (Let's Encrypt's test CA, Debian's package)
by HTTP-01, serves it, redirects http:// to https://, sends HSTS, and after a restart serves
the stored certificate without asking the CA again.

Only what a test on loopback must change is changed: the ports and the public address
(loopback), the resolver's CA server, and the CA's root (``LEGO_CA_CERTIFICATES``). The
test domain resolves to 127.0.0.1 through pebble-challtestsrv's DNS, which pebble's
validation uses (``pebble -dnsserver``): the machine's /etc/hosts is not touched.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support import free_ports, running, wait_until
from tests.support.nix import render_traefik
from tests.support.programs import find_program
from tests.support.web import nginx_running, traefik_running

DOMAIN = "platform.test"
RESOLVER_TIMEOUT = 90.0


def program(name: str) -> str:
    path = find_program(name)
    if path is None:
        pytest.skip(f"{name} is not installed (apt install pebble)")
    return path


def make_tls(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate for pebble's own HTTPS API (127.0.0.1)."""
    openssl = program("openssl")
    ca_key, ca, key, csr, cert = (
        directory / n for n in ("ca.key", "ca.pem", "k.pem", "c.csr", "c.pem")
    )
    run = lambda *a: subprocess.run([openssl, *a], check=True, capture_output=True)  # noqa: E731
    run(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
        "-days",
        "2",
        "-subj",
        "/CN=pebble test root",
    )
    run(
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        "/CN=127.0.0.1",
    )
    ext = directory / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))  # fmt: skip
    return ca, cert, key


@contextmanager
def acme_ca(directory: Path, http_port: int) -> Iterator[tuple[str, Path, str]]:
    """pebble (ACME API on loopback, validating HTTP-01 on ``http_port``) and its DNS
    (challtestsrv: every A query is 127.0.0.1). Yields (directory URL, the CA file that
    signs pebble's API, pebble's management URL)."""
    pebble, challtestsrv = program("pebble"), program("pebble-challtestsrv")
    api, management, dns, dns_management = free_ports(4)
    ca, cert, key = make_tls(directory)
    config = directory / "pebble.json"
    config.write_text(
        json.dumps(
            {
                "pebble": {
                    "listenAddress": f"127.0.0.1:{api}",
                    "managementListenAddress": f"127.0.0.1:{management}",
                    "certificate": str(cert),
                    "privateKey": str(key),
                    "httpPort": http_port,
                    "tlsPort": free_ports(1)[0],
                    "ocspResponderURL": "",
                    "externalAccountBindingRequired": False,
                }
            }
        )
    )
    env = {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PATH": "/usr/bin:/bin"}
    with ExitStack() as stack:
        stack.enter_context(
            running(
                [challtestsrv, "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
                 "-dns01", f"127.0.0.1:{dns}", "-http01", "", "-https01", "", "-tlsalpn01", "",
                 "-management", f"127.0.0.1:{dns_management}"],
                log=directory / "challtestsrv.log",
            )
        )  # fmt: skip
        stack.enter_context(
            running(
                [pebble, "-config", str(config), "-dnsserver", f"127.0.0.1:{dns}"],
                log=directory / "pebble.log",
                env=env,
            )
        )
        context = ssl.create_default_context(cafile=str(ca))
        url = f"https://127.0.0.1:{api}/dir"
        wait_until(lambda: fetch(url, context)[0] == 200, what="pebble", timeout=30)
        yield url, ca, f"https://127.0.0.1:{management}"


def fetch(url: str, context: ssl.SSLContext) -> tuple[int, str]:
    """GET ``url`` over HTTPS verified by ``context``: (status, body)."""
    import urllib.request

    with urllib.request.urlopen(url, context=context, timeout=5) as r:  # noqa: S310 - loopback
        return int(r.status), str(r.read().decode())


def served_certificate(port: int, roots: Path) -> tuple[dict[str, Any], bytes] | None:
    """The certificate Traefik serves for DOMAIN, if it verifies against pebble's roots."""
    context = ssl.create_default_context(cafile=str(roots))
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=DOMAIN) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
            info = tls.getpeercert()
            assert der is not None and info is not None
            return dict(info), der
    except ssl.SSLCertVerificationError:
        return None  # still Traefik's own default certificate


def https_get(port: int, roots: Path, path: str) -> tuple[int, dict[str, str]]:
    """A request to DOMAIN on loopback, the certificate verified against pebble's roots."""
    context = ssl.create_default_context(cafile=str(roots))
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn = http.client.HTTPSConnection(DOMAIN, port, context=context, timeout=5)
    conn.sock = context.wrap_socket(sock, server_hostname=DOMAIN)
    try:
        conn.request("GET", path, headers={"Host": DOMAIN})
        response = conn.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


def test_traefik_gets_a_certificate_by_http01_and_keeps_it(
    backend_url: str, tmp_path: Path
) -> None:
    program("pebble")
    program("pebble-challtestsrv")
    web, websecure, metrics, frontend = free_ports(4)
    settings = {
        "mode": "production",
        "domain": DOMAIN,
        "acmeEmail": f"ops@{DOMAIN}",
        "publicAddress": "127.0.0.1",
        "ports": {
            "web": web,
            "websecure": websecure,
            "traefikMetrics": metrics,
            "frontend": frontend,
            "backend": int(backend_url.rsplit(":", 1)[1]),
        },
        "paths": {"stateDir": str(tmp_path / "state")},
    }

    with ExitStack() as stack:
        directory_url, api_ca, management = stack.enter_context(acme_ca(tmp_path, web))
        roots = tmp_path / "pebble-roots.pem"  # what issued certificates chain to
        api_context = ssl.create_default_context(cafile=str(api_ca))
        roots.write_text(fetch(f"{management}/roots/0", api_context)[1])
        # The CA server is a setting (the module's tls.acmeServer); its root is
        # trusted through lego's variable (on a host: security.pki.certificateFiles).
        static, dynamic, s = render_traefik(settings | {"acmeServer": directory_url})
        acme_store = Path(s["paths"]["acmeStorage"])
        acme_store.parent.mkdir(parents=True, exist_ok=True)
        ((resolver, config),) = static["certificatesResolvers"].items()
        assert config["acme"]["caServer"] == directory_url
        env = {"LEGO_CA_CERTIFICATES": str(api_ca)}
        stack.enter_context(nginx_running(port=frontend))
        edge = stack.enter_context(traefik_running(tmp_path, static, dynamic, env=env))
        got = wait_until(
            lambda: served_certificate(websecure, roots),
            what="a certificate from pebble",
            timeout=RESOLVER_TIMEOUT,
            interval=0.5,
            detail=edge.log_tail,
        )
        info, first = got
        names = [v for k, v in info["subjectAltName"] if k == "DNS"]
        assert names == [DOMAIN]

        # The site over HTTPS: the app and the API, with HSTS from nix/lib.
        status, headers = https_get(websecure, roots, "/api/health")
        assert status == 200
        hsts = headers["strict-transport-security"]
        assert hsts.startswith(f"max-age={s['hsts']['maxAge']}"), hsts
        status, headers = https_get(websecure, roots, "/")
        assert status == 200 and "strict-transport-security" in headers

        # http:// is redirected, permanently.
        conn = http.client.HTTPConnection("127.0.0.1", web, timeout=5)
        conn.request("GET", "/notes", headers={"Host": DOMAIN})
        response = conn.getresponse()
        assert response.status in (301, 308)
        # to the TLS entrypoint (its port shows because it is not 443 here)
        assert response.getheader("Location") == f"https://{DOMAIN}:{websecure}/notes"
        conn.close()

        stored = json.loads(acme_store.read_text())
        assert stored[resolver]["Certificates"][0]["domain"]["main"] == DOMAIN
        assert oct(acme_store.stat().st_mode & 0o777) == "0o600"
        assert edge.errors() == [], edge.log_tail()

    # A restart with the CA gone: the certificate comes from acme.json, not from a new order.
    with ExitStack() as stack:
        stack.enter_context(nginx_running(port=frontend))
        edge = stack.enter_context(traefik_running(tmp_path, static, dynamic, env=env))
        again = wait_until(
            lambda: served_certificate(websecure, roots),
            what="the stored certificate after a restart",
            timeout=30,
            detail=edge.log_tail,
        )
        assert again[1] == first
