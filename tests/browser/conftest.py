"""Fixtures for the browser tests: Debian's Chromium driven by Playwright (sync API),
nginx serving frontend/ with frontend/nginx/server.conf, and the real backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support import Services
from tests.support.browser import CHROMIUM_ARGS, WAIT_MS, Watch, require_chromium
from tests.support.nix import require_nix
from tests.support.web import Nginx, nginx_running, require_nginx


@pytest.fixture(scope="session")
def tools() -> str:
    """Chromium's path; skips the tier unless Chromium, nginx and nix-instantiate (which
    renders nginx.conf) are installed."""
    chromium = require_chromium()
    require_nginx()
    require_nix()
    return chromium


@pytest.fixture(scope="session")
def browser(tools: str) -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=tools, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def site(tools: str, backend_url: str) -> Iterator[Nginx]:
    """nginx in front of the shared backend (session-wide)."""
    with nginx_running(api_upstream=backend_url) as server:
        yield server


@pytest.fixture
def app(site: Nginx, services: Services) -> str:
    """The app's URL, with empty tables and rate-limit counters."""
    services.reset()
    return site.url


ContextFactory = Callable[..., tuple[Any, Watch]]


@pytest.fixture
def new_context(browser: Any, request: pytest.FixtureRequest) -> Iterator[ContextFactory]:
    """Make browser contexts whose pages are all watched; after the test, any console
    error that was not expected, uncaught exception or request to another host fails it."""
    made: list[tuple[Any, Watch]] = []

    def factory(base_url: str, **options: Any) -> tuple[Any, Watch]:
        options.setdefault("viewport", {"width": 1200, "height": 860})
        options.setdefault("locale", "en-GB")
        options.setdefault("timezone_id", "Europe/London")
        context = browser.new_context(base_url=base_url, **options)
        context.set_default_timeout(WAIT_MS)
        context.set_default_navigation_timeout(WAIT_MS)
        watch = Watch(base_url)
        watch.attach(context)
        made.append((context, watch))
        return context, watch

    yield factory
    problems: list[str] = []
    for context, watch in made:
        problems += watch.problems()
        context.close()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.passed:
        assert not problems, "\n".join(problems)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
