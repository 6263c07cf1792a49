"""Throwaway servers for the observability tests, on loopback, with bounded waits: a
Prometheus (no scrape targets unless given), node_exporter, Traefik; and a PromQL client.

    with prometheus_running(tmp_path, rule_files=[RULES_FILE]) as url:
        answer = query(url, "up")   # the API's JSON, also for a 4xx (bad_data)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import running

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def find_program(name: str) -> str | None:
    """A program on PATH, or next to this Python (the project venv's bin/)."""
    found = shutil.which(name)
    if found:
        return found
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


def require_program(name: str, how: str) -> str:
    path = find_program(name)
    if path is None:
        pytest.skip(f"{name} is not installed ({how})")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_until(
    check: Callable[[], Any],
    *,
    what: str,
    timeout: float = START_TIMEOUT,
    interval: float = 0.1,
    detail: Callable[[], str] | None = None,
) -> Any:
    """Call `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (OSError, ValueError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    extra = f"\n{detail()}" if detail else ""
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r}){extra}")


def http_get(url: str, *, timeout: float = 10.0) -> tuple[int, bytes]:
    """GET; returns (status, body), also for 4xx/5xx answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback)
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def query(base_url: str, expr: str, *, timeout: float = 10.0) -> dict[str, Any]:
    """Evaluate `expr` now (GET /api/v1/query); the API's JSON answer, success or error."""
    status, body = http_get(
        f"{base_url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}", timeout=timeout
    )
    try:
        answer: dict[str, Any] = json.loads(body)
    except ValueError:
        return {"status": "error", "errorType": f"http {status}", "error": body[:500].decode()}
    return answer


@contextlib.contextmanager
def prometheus_running(
    tmp: Path,
    *,
    rule_files: Iterable[Path] = (),
    scrape_configs: Iterable[dict[str, Any]] = (),
    interval: str = "1s",
) -> Iterator[str]:
    """A throwaway Prometheus on 127.0.0.1 (storage in `tmp`); yields its base URL."""
    prometheus = require_program("prometheus", "apt-get install prometheus")
    port = free_port()
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": list(scrape_configs),
    }
    config_file = tmp / "prometheus.yml"
    config_file.write_text(json.dumps(config, indent=2), encoding="utf-8")  # JSON is YAML
    log = tmp / "prometheus.log"
    argv = [
        prometheus,
        f"--config.file={config_file}",
        f"--storage.tsdb.path={tmp / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=1h",
    ]
    url = f"http://127.0.0.1:{port}"
    with running(argv, log=log, cwd=tmp) as proc:
        wait_until(
            lambda: (
                alive(proc, "prometheus", log) and http_get(f"{url}/-/ready", timeout=2)[0] == 200
            ),
            what="Prometheus /-/ready",
            detail=lambda: tail(log),
        )
        yield url


def alive(proc: subprocess.Popen[bytes], name: str, log: Path) -> bool:
    """True while `proc` runs; fails the test at once (with its log) if it has exited."""
    if proc.poll() is not None:
        pytest.fail(f"{name} exited with status {proc.returncode}:\n{tail(log)}")
    return True
