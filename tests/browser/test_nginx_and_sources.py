"""nginx with frontend/nginx/server.conf (caching, headers, gzip, SPA fallback, /api
proxy), and rules the frontend's sources keep (no inline code, no other hosts,
no token in storage)."""

from __future__ import annotations

import re

import httpx2 as httpx

from tests.support.layout import WEB_ROOT
from tests.support.web import Nginx

CSP = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"


def get(site: Nginx, path: str) -> httpx.Response:
    return httpx.get(site.url + path, headers={"Accept-Encoding": "gzip"}, timeout=10)


def assert_security_headers(r: httpx.Response) -> None:
    assert r.headers["content-security-policy"].startswith(CSP)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "camera=()" in r.headers["permissions-policy"]
    assert r.headers["x-frame-options"] == "DENY"


def test_index_is_not_cached_and_every_app_path_gets_it(site: Nginx) -> None:
    index = (WEB_ROOT / "index.html").read_text()
    for path in ("/", "/index.html", "/notes", "/account", "/admin", "/some/deep/link?x=1"):
        r = get(site, path)
        assert r.status_code == 200, path
        assert r.text == index, path
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["cache-control"] == "no-cache", path
        assert r.headers["content-encoding"] == "gzip", path
        assert_security_headers(r)


def test_assets_are_cacheable_compressed_and_typed(site: Nginx) -> None:
    r = get(site, "/assets/js/api.js")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "public, max-age=3600"
    assert r.headers["content-type"].startswith(("application/javascript", "text/javascript"))
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers.get("etag")
    assert_security_headers(r)
    css = get(site, "/assets/app.css")
    assert css.headers["content-type"].startswith("text/css")
    assert css.headers["content-encoding"] == "gzip"
    icon = get(site, "/assets/icon.svg")
    assert icon.headers["content-type"].startswith("image/svg+xml")

    missing = get(site, "/assets/js/nothing-here.js")
    assert missing.status_code == 404  # not index.html: a missing module fails loudly
    assert_security_headers(missing)


def test_api_is_proxied_with_the_backends_own_headers(site: Nginx) -> None:
    r = get(site, "/api/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.headers["cache-control"] == "no-store"
    # Only the backend's CSP: the fragment adds nothing to /api responses.
    assert r.headers.get_list("content-security-policy") == [
        "default-src 'none'; frame-ancestors 'none'"
    ]
    assert "content-encoding" not in r.headers
    info = get(site, "/api")
    assert info.json()["name"] == "Main Platform API"


def test_sources_have_no_inline_code_no_other_hosts_and_no_token_storage() -> None:
    files = [p for p in WEB_ROOT.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} <= {".html", ".js", ".css", ".svg"}
    html = (WEB_ROOT / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline <script>"
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    for path in files:
        text = path.read_text().replace('xmlns="http://www.w3.org/2000/svg"', "")
        hosts = re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.IGNORECASE)
        assert not hosts, f"{path.name} names another host: {hosts}"
        if path.suffix == ".js":
            code = "\n".join(
                line
                for line in text.splitlines()
                if not line.lstrip().startswith(("//", "*", "/*"))
            )
            for banned in (
                "localStorage",
                "sessionStorage",
                "innerHTML",
                "eval(",
                'setAttribute("style"',
            ):
                assert banned not in code, f"{path.name} uses {banned}"
