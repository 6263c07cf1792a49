"""Stopping and starting the stack keeps users and notes (state directory, Redis AOF)."""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path

import httpx2 as httpx
import pytest
from mainplatform_dev.stack import REQUIRED, Stack, find

from tests.support import ROOT, STRONG_PASSWORD


def test_restart_keeps_data() -> None:
    if any(find(role) is None for role in REQUIRED):
        pytest.skip("the local stack's programs are missing")
    state = Path(tempfile.mkdtemp(prefix="mainplatform-restart-"))
    out = io.StringIO()
    try:
        with (
            Stack(ROOT, state, auto_ports=True, workers=1, out=out) as first,
            httpx.Client(base_url=first.url) as c,
        ):
            c.post(
                "/api/auth/register",
                json={"email": "keep@example.org", "password": STRONG_PASSWORD},
            )
            token = c.post(
                "/api/auth/login",
                json={"email": "keep@example.org", "password": STRONG_PASSWORD},
            ).json()["access_token"]
            c.post(
                "/api/notes",
                json={"title": "survives"},
                headers={"Authorization": f"Bearer {token}"},
            )
        assert "ready" in out.getvalue()
        with (
            Stack(ROOT, state, auto_ports=True, workers=1, out=out) as second,
            httpx.Client(base_url=second.url) as c,
        ):
            r = c.post(
                "/api/auth/login",
                json={"email": "keep@example.org", "password": STRONG_PASSWORD},
            )
            assert r.status_code == 200
            notes = c.get(
                "/api/notes", headers={"Authorization": f"Bearer {r.json()['access_token']}"}
            )
            assert [n["title"] for n in notes.json()["items"]] == ["survives"]
        assert (state / "secrets.env").exists()  # the same secrets are reused
    finally:
        shutil.rmtree(state, ignore_errors=True)


def test_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    from mainplatform_dev.services import ServiceError

    if any(find(role) is None for role in REQUIRED):
        pytest.skip("the local stack's programs are missing")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        stack = Stack(ROOT, tmp_path / "state", ports={"web": port}, out=io.StringIO())
        with pytest.raises(ServiceError, match=rf"ports already in use: .*web \({port}\)"):
            stack.start()
