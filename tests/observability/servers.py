"""Throwaway servers for the observability tests, on loopback, with bounded waits: a
Prometheus (no scrape targets unless given), node_exporter, Traefik; and a PromQL client.

    with prometheus_running(tmp_path, rule_files=[RULES_FILE]) as url:
        answer = query(url, "up")   # the API's JSON, also for a 4xx (bad_data)
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import running
from tests.tooling import (  # noqa: F401 - re-exported for the tests in this folder
    find_program,
    free_port,
    require_program,
    tail,
    wait_until,
)

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


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
