"""schemathesis against the real backend (uvicorn, PostgreSQL, Redis), every operation of the
OpenAPI document, signed in as an admin, with a fixed seed and a random one, then its stateful
phase over the links it infers. A failure names the check and prints the request that
reproduces it (schemathesis' ``curl`` line).

Checks: not a server error, status code, content type, response schema and response headers
conform to the document. Bounded: ``EXAMPLES`` cases per operation and seed, and
``STATEFUL_EXAMPLES`` scenarios of at most ``STATEFUL_STEPS`` calls.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hypothesis
import psycopg
import pytest
import redis
import schemathesis
from hypothesis import HealthCheck
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mainplatform.api.openapi import build_spec
from mainplatform.api.routes import OPERATIONS
from tests.support import Services, backend_env, make_admin, start_backend, stop_process
from tests.support.users import api_register, api_token

pytestmark = pytest.mark.slow

EXAMPLES = 50
STATEFUL_EXAMPLES = 40
STATEFUL_STEPS = 8
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# Calls that end the session they are made with: the fuzzer signs in again after each.
SESSION_ENDING = {("POST", "/api/auth/logout"), ("POST", "/api/auth/logout-all")}
ADMIN = "fuzz-admin@example.org"

HYPOTHESIS = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    database=None,
)


@dataclass
class Session:
    """An admin's access token, renewed when a fuzzed call ended the session."""

    url: str
    token: str = ""

    def sign_in(self) -> None:
        self.token = api_token(self.url, ADMIN)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def after(self, case: Any, response: Any) -> None:
        ended = (case.method.upper(), case.path) in SESSION_ENDING
        revoked = response.status_code == 401 and "token_revoked" in response.text
        if ended or revoked:
            self.sign_in()


@pytest.fixture(scope="module")
def backend(services: Services) -> Iterator[Session]:
    services.reset()
    env = backend_env(
        services,
        RATE_LIMIT_API="10000000/minute",
        RATE_LIMIT_LOGIN_ACCOUNT="10000000/minute",
        RATE_LIMIT_LOGIN_DEVICE="10000000/minute",
        RATE_LIMIT_LOGIN_IP="10000000/minute",
        RATE_LIMIT_REGISTER_IP="10000000/minute",
    )
    proc, url = start_backend(env, workers=1)
    try:
        make_admin(services, api_register(url, ADMIN))
        session = Session(url)
        session.sign_in()
        yield session
    finally:
        stop_process(proc)


# The document the backend serves at /api/openapi.json, built the same way; loaded at import
# so that pytest can collect one test per operation (schemathesis' lazy fixture loader does
# not work with pytest 9), and called at the real server's address.
schema = schemathesis.openapi.from_dict(build_spec(OPERATIONS))


CALLS: Counter[str] = Counter()  # cases sent, by phase and operation
STATUSES: Counter[int] = Counter()


def _call(case: Any, session: Session, phase: str) -> None:
    response = case.call(base_url=session.url, headers=session.headers())
    CALLS[f"{phase} {case.method.upper()} {case.path}"] += 1
    STATUSES[response.status_code] += 1
    try:
        case.validate_response(response, checks=CHECKS)
    finally:
        session.after(case, response)


@schema.parametrize()
@hypothesis.seed(20261201)
@HYPOTHESIS
def test_every_operation_fixed_seed(case: Any, backend: Session) -> None:
    _call(case, backend, "fixed")


@schema.parametrize()
@HYPOTHESIS
def test_every_operation_random_seed(case: Any, backend: Session) -> None:
    _call(case, backend, "random")


def test_served_document_is_the_one_fuzzed(backend: Session) -> None:
    import httpx2 as httpx

    assert httpx.get(f"{backend.url}/api/openapi.json").json() == build_spec(OPERATIONS)


def reset(services: Services) -> None:
    """The same starting point for every stateful scenario: no notes (ids from 1 again), no
    account but the admin, no Redis state. Hypothesis replays scenarios while it explores and
    shrinks; a server whose state carried over from the last scenario would answer a replay
    differently (a list empty once, not the next time), which hypothesis rightly reports as
    a flaky strategy, not as a finding."""
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE notes, refresh_tokens, refresh_families RESTART IDENTITY CASCADE")
        conn.execute("DELETE FROM users WHERE email <> %s", (ADMIN,))
        conn.execute("UPDATE users SET tokens_valid_after = '-infinity', disabled = false")
    redis.Redis.from_url(services.redis.url).flushdb()


def test_stateful_links(backend: Session, services: Services) -> None:
    base = schema.as_state_machine()

    class Machine(base):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            reset(services)
            backend.sign_in()

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": backend.url, "headers": backend.headers()}

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            backend.after(case, response)

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            CALLS[f"stateful {case.method.upper()} {case.path}"] += 1
            STATUSES[response.status_code] += 1
            case.validate_response(response, checks=CHECKS)

    Machine.run(
        settings=hypothesis.settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
    )


def test_zz_every_operation_was_fuzzed() -> None:
    """Runs last in this module: the counts above, printed, and proof they are not vacuous."""
    if not CALLS:
        pytest.skip("the fuzz tests were not selected in this run")
    operations = {
        f"{op.method.upper()} {op.path}" for op in (r.ok() for r in schema.get_all_operations())
    }
    for phase in ("fixed", "random"):
        seen = {key.split(" ", 1)[1] for key in CALLS if key.startswith(phase + " ")}
        assert operations <= seen, operations - seen
    stateful = sum(n for key, n in CALLS.items() if key.startswith("stateful "))
    print(
        f"\nschemathesis: {sum(CALLS.values())} cases over {len(operations)} operations "
        f"({stateful} in stateful scenarios); statuses {dict(sorted(STATUSES.items()))}; "
        f"{sum(n for code, n in STATUSES.items() if code >= 500)} 5xx"
    )
    assert stateful > 0, "the stateful phase made no call: no links were inferred"
