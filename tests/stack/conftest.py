"""One local stack (the code `mainplatform dev` runs) for the whole tier, on free ports."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from mainplatform_dev.stack import REQUIRED, Stack, find

from tests.support import ROOT

# Low enough for a test to reach, high enough that the other tests never do.
RATE_LIMIT = {"average": 20, "period": "1s", "burst": 40}


@pytest.fixture(scope="session")
def stack_state() -> Iterator[Path]:
    state = Path(tempfile.mkdtemp(prefix="mainplatform-stack-"))
    yield state
    shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def stack(stack_state: Path) -> Iterator[Stack]:
    missing = [role for role in REQUIRED if find(role) is None]
    if missing:
        pytest.skip(f"the local stack needs {', '.join(missing)}")
    s = Stack(
        ROOT,
        stack_state,
        auto_ports=True,
        overrides={"edgeRateLimit": RATE_LIMIT, "scrapeInterval": "2s"},  # rules too
        backend_env={"RATE_LIMIT_REGISTER_IP": "1000/minute"},
    )
    s.start()
    try:
        yield s
    finally:
        s.stop()
