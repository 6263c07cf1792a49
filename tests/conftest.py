"""Shared fixtures: throwaway PostgreSQL and Redis (once per session), an app per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from mainplatform.app import create_app
from mainplatform.config import Settings
from tests.support import (
    Services,
    User,
    backend_env,
    make_settings,
    start_backend,
    stop_process,
    throwaway_services,
)


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    with throwaway_services("mainplatform-test-") as svc:
        yield svc


@pytest.fixture
def settings(services: Services) -> Settings:
    services.reset()
    return make_settings(services.database_url, services.redis.url)


ClientFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(settings: Settings) -> Iterator[ClientFactory]:
    """Build a client for these settings (with overrides); all are closed after the test."""
    opened: list[TestClient] = []

    def factory(peer: str = "127.0.0.1", **overrides: object) -> TestClient:
        app = create_app(replace(settings, **overrides))  # type: ignore[arg-type]
        client = TestClient(app, raise_server_exceptions=False, client=(peer, 50000))
        client.__enter__()
        opened.append(client)
        return client

    yield factory
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: ClientFactory) -> TestClient:
    return make_client()


@pytest.fixture
def user(client: TestClient) -> User:
    return User(client, "alice@example.org")


@pytest.fixture(scope="session")
def backend_url(services: Services) -> Iterator[str]:
    """Base URL of a real `mainplatform serve` (2 workers) on loopback."""
    proc, url = start_backend(backend_env(services, RATE_LIMIT_API="100000/minute"), workers=2)
    try:
        yield url
    finally:
        stop_process(proc)
