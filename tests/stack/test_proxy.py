"""Through the real Traefik, wired from nix/lib exactly as in production."""

from __future__ import annotations

import secrets
import time

import httpx2 as httpx
from mainplatform_dev.stack import Stack

from tests.support import STRONG_PASSWORD
from tests.support.headers import api_headers, frontend_headers


def test_root_serves_the_app_with_security_headers(stack: Stack) -> None:
    r = httpx.get(f"{stack.url}/")
    assert r.status_code == 200
    assert "<title>" in r.text and 'type="module"' in r.text
    # Exactly what nginx's fragment says, each header once: Traefik adds none of them.
    for name, value in frontend_headers().items():
        assert r.headers.get_list(name) == [value], name
    assert "server" not in r.headers
    assert "strict-transport-security" not in r.headers  # plain HTTP locally


def test_api_health_through_the_proxy(stack: Stack) -> None:
    r = httpx.get(f"{stack.url}/api/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    # The backend's security headers, unchanged by the proxy.
    for name, value in api_headers().items():
        assert r.headers.get_list(name) == [value], name
    assert "permissions-policy" not in r.headers
    assert httpx.get(f"{stack.url}/api/ready").json()["status"] == "ready"


def test_authenticated_round_trip(stack: Stack) -> None:
    email = f"stack-{secrets.token_hex(4)}@example.org"
    with httpx.Client(base_url=stack.url) as c:
        assert (
            c.post(
                "/api/auth/register", json={"email": email, "password": STRONG_PASSWORD}
            ).status_code
            == 201
        )
        r = c.post("/api/auth/login", json={"email": email, "password": STRONG_PASSWORD})
        assert r.status_code == 200
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        assert c.post("/api/notes", json={"title": "via traefik"}, headers=auth).status_code == 201
        assert [n["title"] for n in c.get("/api/notes", headers=auth).json()["items"]] == [
            "via traefik"
        ]
        # the refresh cookie (Path=/api/auth) works through the proxy, with the same-origin check
        r = c.post(
            "/api/auth/refresh", headers={"Content-Type": "application/json", "Origin": stack.url}
        )
        assert r.status_code == 200, r.text
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        assert c.post("/api/auth/logout", headers=auth).status_code == 204
        assert c.get("/api/notes", headers=auth).status_code == 401


def test_metrics_and_admin_uis_are_not_reachable(stack: Stack) -> None:
    for path in (
        "/metrics",
        "/metrics/",
        "/api/../metrics",
        "/dashboard/",
        "/api/rawdata",
        "/ping",
        "/grafana/",
        "/prometheus/",
        "/api/v1/targets",
    ):
        r = httpx.get(f"{stack.url}{path}")
        assert r.status_code in (404, 200), path
        assert "# TYPE" not in r.text, path  # no metrics exposition
        assert "traefik" not in r.text.lower() or path == "/", path
    assert httpx.get(f"{stack.url}/metrics").status_code == 404
    # Prometheus and Traefik's own metrics are on loopback ports of their own, not on the proxy
    assert httpx.get(f"http://127.0.0.1:{stack.port('traefikMetrics')}/metrics").status_code == 200


def test_unknown_hosts_and_api_paths_are_clean_404s(stack: Stack) -> None:
    r = httpx.get(f"{stack.url}/", headers={"Host": "evil.example"})
    assert r.status_code == 404
    r = httpx.get(f"{stack.url}/api/nope")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_request_ids_pass_through(stack: Stack) -> None:
    r = httpx.get(f"{stack.url}/api/health", headers={"X-Request-ID": "stack-test-42"})
    assert r.headers["x-request-id"] == "stack-test-42"
    generated = httpx.get(f"{stack.url}/api/health").headers["x-request-id"]
    assert len(generated) >= 16


def test_per_ip_rate_limit_answers_429(stack: Stack) -> None:
    codes: list[int] = []
    with httpx.Client(base_url=stack.url) as c:
        deadline = time.monotonic() + 10
        while 429 not in codes and time.monotonic() < deadline:
            codes.append(c.get("/api/health").status_code)
    assert 429 in codes, f"no 429 after {len(codes)} requests"
    time.sleep(2.5)  # let the bucket refill for the tests after this one
