"""`mainplatform dev` itself: progress, what is where, Ctrl-C stops every process."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import pytest
from mainplatform_dev.stack import REQUIRED, find

from tests.support import ROOT


def children_of(pid: int) -> set[int]:
    found: set[int] = set()
    stack = [pid]
    while stack:
        p = stack.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = {int(c) for c in (task / "children").read_text().split()}
            except OSError:
                continue
            stack.extend(kids - found)
            found |= kids
    return found


def alive(pids: set[int]) -> set[int]:
    return {p for p in pids if Path(f"/proc/{p}").exists()}


def test_dev_command_runs_and_stops_cleanly(stack_state: Path) -> None:
    if any(find(role) is None for role in REQUIRED):
        pytest.skip("the local stack's programs are missing")
    state = stack_state.parent / (stack_state.name + "-command")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mainplatform", "dev", "--ports", "auto", "--workers", "1",
         "--state", str(state)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while not any("Ctrl-C stops everything" in line for line in lines):
            assert proc.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "".join(lines)
            lines.append(proc.stdout.readline())
        out = "".join(lines)
        for name in (
            "postgres",
            "redis",
            "migrations",
            "mail-sink",
            "backend",
            "nginx",
            "traefik",
            "prometheus",
        ):
            assert f"  {name}" in out and "ready (" in out, out
        mail = next(line.split()[1] for line in lines if line.strip().startswith("mail "))
        assert mail == f"{state.resolve()}/mail/*.eml", out
        app = next(line.split()[1] for line in lines if line.strip().startswith("app "))
        assert httpx.get(f"{app}api/health").json()["status"] == "ok"
        started = children_of(proc.pid)
        assert len(started) >= 6
    finally:
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        rest = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, rest
    assert "stopped." in rest
    time.sleep(0.5)
    assert not alive(started), f"left running: {alive(started)}"
    shutil.rmtree(state, ignore_errors=True)


def test_missing_program_is_one_clear_line(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": "/nonexistent"}
    r = subprocess.run(
        [sys.executable, "-m", "mainplatform", "dev", "--state", str(tmp_path / "s")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 2
    assert "missing programs:" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_private_state_directory_is_explained(tmp_path: Path) -> None:
    """As root, PostgreSQL runs as another user; a state dir it cannot reach gets a clear hint."""
    if os.geteuid() != 0:
        pytest.skip("only root hands PostgreSQL to another user")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    r = subprocess.run(
        [sys.executable, "-m", "mainplatform", "dev", "--ports", "auto",
         "--state", str(private / "state")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 2
    assert "a parent directory is private" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
