"""Browser-test helpers: nginx serving frontend/ with the project's fragment, and a
watcher that records every page's console errors and requests."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import urlsplit

import httpx2 as httpx
from mainplatform_dev.services import free_port
from mainplatform_dev.stack import nginx_conf

from tests.support import (
    ROOT,
    STRONG_PASSWORD,
    Services,
    User,
    make_admin,
    stop_process,
    wait_http,
)

# Debian's paths by default; PATH (e.g. `nix develop`) or CHROMIUM=... otherwise.
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
MIME_TYPES = next(
    (
        p
        for p in ("/etc/nginx/mime.types", str(ROOT / "frontend/nginx/mime.types"))
        if Path(p).exists()
    ),
    "/etc/nginx/mime.types",
)
WEB_ROOT = ROOT / "frontend" / "public"
FRAGMENT = ROOT / "frontend" / "nginx" / "server.conf"
ARTIFACTS = ROOT / "tests" / "artifacts" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 10_000  # the longest any single expectation waits


def missing_tools() -> str | None:
    for path, what in ((CHROMIUM, "Chromium (apt chromium)"), (NGINX, "nginx (apt nginx-light)")):
        if not Path(path).is_file():
            return f"{what} is not installed at {path}"
    if not Path(MIME_TYPES).is_file():
        return f"nginx's {MIME_TYPES} is missing"
    return None


# -- nginx ------------------------------------------------------------------------------


@dataclass
class Nginx:
    url: str
    run: Path
    proc: subprocess.Popen[bytes]

    def error_log(self) -> str:
        try:
            return (self.run / "error.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""


@contextmanager
def nginx_for(backend_url: str) -> Iterator[Nginx]:
    """nginx on a free loopback port: frontend/public, the fragment, /api → backend_url."""
    run = Path(tempfile.mkdtemp(prefix="mainplatform-nginx-"))
    run.chmod(0o755)  # when started as root, the workers run as nobody
    port = free_port()
    conf = run / "nginx.conf"
    # The same nginx.conf the frontend image runs, rendered from nix/lib, plus the /api proxy.
    conf.write_text(
        nginx_conf(
            ROOT,
            {
                "listen": f"127.0.0.1:{port}",
                "root": str(WEB_ROOT),
                "serverFragment": str(FRAGMENT),
                "mimeTypes": MIME_TYPES,
                "tempDir": str(run),
                "apiUpstream": backend_url.rstrip("/"),
                "accessLog": str(run / "access.log"),
            },
        )
    )
    with (run / "error.log").open("ab") as errors:
        proc = subprocess.Popen(
            [NGINX, "-p", str(run), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
    server = Nginx(f"http://127.0.0.1:{port}", run, proc)
    try:
        try:
            wait_http(f"{server.url}/index.html", timeout=15, proc=proc)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{server.error_log()}") from None
        yield server
    finally:
        stop_process(proc, timeout=10)
        shutil.rmtree(run, ignore_errors=True)


# -- what each page did ---------------------------------------------------------------------

FAILED_RESOURCE = re.compile(
    r"^Failed to load resource: the server responded with a status of (\d+)"
)


@dataclass
class PageWatch:
    """Console errors, uncaught exceptions and request URLs of one page."""

    origin: str
    console: list[tuple[str, str, str]] = field(default_factory=list)  # (type, text, url)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on(
            "console",
            lambda m: self.console.append((m.type, m.text, (m.location or {}).get("url", ""))),
        )
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))


@dataclass
class Watch:
    """Every page of one browser context. `expect(status, path)` allows the console
    error Chromium logs for that API response (it logs every 4xx/5xx fetch)."""

    origin: str
    pages: list[PageWatch] = field(default_factory=list)
    # Signed-out page loads ask /api/auth/refresh and get 401: that is how the app
    # learns there is no session (the refresh cookie is HttpOnly, so it cannot look).
    expected: set[tuple[int, str]] = field(default_factory=lambda: {(401, "/api/auth/refresh")})

    # Other origins the test sends the browser to on purpose (an identity provider).
    other_origins: set[tuple[str, str]] = field(default_factory=set)

    def expect(self, status: int, path: str) -> None:
        self.expected.add((status, path))

    def allow_origin(self, url: str) -> None:
        parts = urlsplit(url)
        self.other_origins.add((parts.scheme, parts.netloc))

    def attach(self, context: Any) -> None:
        def on_page(page: Any) -> None:
            w = PageWatch(self.origin)
            w.attach(page)
            self.pages.append(w)

        context.on("page", on_page)

    def problems(self) -> list[str]:
        out: list[str] = []
        own = urlsplit(self.origin)
        for w in self.pages:
            out += [f"uncaught exception: {e}" for e in w.page_errors]
            for kind, text, url in w.console:
                if kind not in {"error", "warning"}:
                    continue
                m = FAILED_RESOURCE.match(text)
                if m and url:
                    parts = urlsplit(url)
                    same = (parts.scheme, parts.netloc) == (own.scheme, own.netloc)
                    if same and (int(m.group(1)), parts.path) in self.expected:
                        continue
                out.append(f"console {kind}: {text} ({url})")
            for url in w.requests:
                parts = urlsplit(url)
                if parts.scheme in {"data", "blob", "about"}:
                    continue
                origin = (parts.scheme, parts.netloc)
                if origin != (own.scheme, own.netloc) and origin not in self.other_origins:
                    out.append(f"request to another host: {url}")
        return out

    def request_paths(self) -> list[str]:
        return [urlsplit(u).path for w in self.pages for u in w.requests]


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    return path


# -- the API, straight (for setting up data quickly) --------------------------------------------


def api_register(backend_url: str, email: str, password: str = STRONG_PASSWORD) -> int:
    r = httpx.post(
        f"{backend_url}/api/auth/register", json={"email": email, "password": password}, timeout=10
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def api_token(backend_url: str, email: str, password: str = STRONG_PASSWORD) -> str:
    r = httpx.post(
        f"{backend_url}/api/auth/login", json={"email": email, "password": password}, timeout=10
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def api_notes(backend_url: str, token: str, titles: list[str]) -> None:
    with httpx.Client(
        base_url=backend_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    ) as client:
        for title in titles:
            r = client.post("/api/notes", json={"title": title, "body": f"Body of {title}"})
            assert r.status_code == 201, r.text


def promote(services: Services, user_id: int) -> None:
    """Give a user the admin role (make_admin only needs the object's .id)."""
    make_admin(services, cast(User, SimpleNamespace(id=user_id)))
