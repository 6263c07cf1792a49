"""Child processes and waiting: free loopback ports, a process run for the length of a
`with` block, bounded waits that say what they waited for, the tail of a log."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from mainplatform_dev.services import free_port

__all__ = [
    "alive",
    "free_port",
    "free_ports",
    "mainplatform",
    "running",
    "stop_process",
    "tail",
    "wait_http",
    "wait_until",
]


def free_ports(n: int) -> list[int]:
    """`n` distinct free loopback ports."""
    ports: set[int] = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)


def mainplatform(
    *args: str, env: dict[str, str] | None = None, stdin: str = "", timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the ``mainplatform`` command to its end (``env`` on top of this environment);
    its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "mainplatform", *args],
        env={**os.environ, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def worker_pids(supervisor: int) -> list[int]:
    """The worker processes of `mainplatform serve`'s supervisor: its children but
    multiprocessing's resource tracker (forked workers have the supervisor's command line,
    spawned ones multiprocessing's)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    found = []
    for pid in children:
        with contextlib.suppress(OSError):
            if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
    return found


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log, for a failure message ('' when it cannot be read)."""
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_until(
    check: Callable[[], Any],
    *,
    what: str,
    timeout: float = 30.0,
    interval: float = 0.1,
    detail: Callable[[], str] | None = None,
) -> Any:
    """Call `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except (OSError, ValueError) as exc:  # connection refused and friends
            last = exc
        else:
            if result:
                return result
            last = result
        time.sleep(interval)
    extra = f"\n{detail()}" if detail is not None else ""
    raise AssertionError(
        f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r}){extra}"
    )


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until `url` answers below 500; raise RuntimeError if `proc` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def alive(proc: subprocess.Popen[bytes], name: str, log: Path) -> bool:
    """True while `proc` runs; fails the test at once (with its log) if it has exited."""
    if proc.poll() is not None:
        pytest.fail(f"{name} exited with status {proc.returncode}:\n{tail(log)}")
    return True


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """TERM, then KILL after `timeout`; the whole process group when it has its own session."""
    if proc.poll() is not None:
        return
    group = os.getpgid(proc.pid) == proc.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM) if group else proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL) if group else proc.kill()
        proc.wait(10)


@contextlib.contextmanager
def running(
    argv: list[str], *, log: Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a child process in its own session, its output in `log`; always stop it (TERM,
    then KILL) and reap it."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            stop_process(proc, timeout=10)
