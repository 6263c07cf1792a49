"""Browser tests' own pieces: Debian's Chromium (found as every program is), its options,
and a watcher that records every page's console errors, uncaught exceptions and requests."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.support.layout import ROOT
from tests.support.programs import require_program

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


def require_chromium() -> str:
    """Chromium: $CHROMIUM when set, else `chromium` (Debian's, /usr/bin); or skip."""
    return require_program("chromium", env="CHROMIUM", why="apt-get install chromium")


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
