"""A throwaway Prometheus on loopback (no scrape targets unless given), a PromQL client, and
a throwaway Alertmanager.

with prometheus_running(tmp_path, rule_files=[RULES_FILE]) as url:
    answer = query(url, "up")   # the API's JSON, also for a 4xx (bad_data)
with alertmanager_running(tmp_path, config, port) as url: ...
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import urllib.parse
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tests.support.processes import alive, free_port, running, tail, wait_until
from tests.support.programs import require_program
from tests.support.web import http_get


def query(base_url: str, expr: str, *, timeout: float = 10.0) -> dict[str, Any]:
    """Evaluate `expr` now (GET /api/v1/query); the API's JSON answer, success or error."""
    status, _, body = http_get(
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
    alerting: dict[str, Any] | None = None,
) -> Iterator[str]:
    """A throwaway Prometheus on 127.0.0.1 (storage in `tmp`); yields its base URL.
    `alerting`: the configuration's `alerting` section (where alerts are sent)."""
    prometheus = require_program("prometheus", why="apt-get install prometheus")
    port = free_port()
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": list(scrape_configs),
        **({"alerting": alerting} if alerting else {}),
    }
    argv = [
        prometheus,
        f"--storage.tsdb.path={tmp / 'tsdb'}",
        "--storage.tsdb.retention.time=1h",
    ]
    with _until_ready("prometheus", argv, tmp, config, port) as url:
        yield url


@contextlib.contextmanager
def _until_ready(
    name: str, argv: list[str], tmp: Path, config: dict[str, Any], port: int
) -> Iterator[str]:
    """Prometheus or Alertmanager (`argv`) with `config` as `tmp/<name>.yml` (JSON is YAML),
    listening on 127.0.0.1:`port`, once its /-/ready answers; yields its base URL."""
    config_file = tmp / f"{name}.yml"
    config_file.write_text(json.dumps(config, indent=2), encoding="utf-8")
    log = tmp / f"{name}.log"
    argv = [*argv, f"--config.file={config_file}", f"--web.listen-address=127.0.0.1:{port}"]
    url = f"http://127.0.0.1:{port}"
    with running(argv, log=log, cwd=tmp) as proc:
        wait_until(
            lambda: alive(proc, name, log) and http_get(f"{url}/-/ready", timeout=2)[0] == 200,
            what=f"{name} /-/ready",
            detail=lambda: tail(log),
        )
        yield url


def amtool_check(tmp: Path, config: dict[str, Any]) -> str:
    """`amtool check-config` on `config` (alertmanager.yml as a dict) passes; its output."""
    amtool = require_program("amtool", why="apt-get install prometheus-alertmanager")
    path = tmp / "checked.yml"
    path.write_text(json.dumps(config), encoding="utf-8")
    proc = subprocess.run(
        [amtool, "check-config", str(path)], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def require_alertmanager() -> str:
    """Debian's prometheus-alertmanager (or `alertmanager`), or skip."""
    return require_program(
        "prometheus-alertmanager", "alertmanager", why="apt-get install prometheus-alertmanager"
    )


@contextlib.contextmanager
def alertmanager_running(tmp: Path, config: dict[str, Any], port: int) -> Iterator[str]:
    """A throwaway Alertmanager on 127.0.0.1:`port` with `config` (alertmanager.yml as a
    dict), clustering off (it would listen on every interface); yields its base URL."""
    argv = [
        require_alertmanager(),
        f"--storage.path={tmp / 'alertmanager-data'}",
        "--cluster.listen-address=",
        "--log.level=debug",
    ]
    with _until_ready("alertmanager", argv, tmp, config, port) as url:
        yield url
