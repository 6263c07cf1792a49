"""A throwaway Prometheus on loopback (no scrape targets unless given) and a PromQL client.

with prometheus_running(tmp_path, rule_files=[RULES_FILE]) as url:
    answer = query(url, "up")   # the API's JSON, also for a 4xx (bad_data)
"""

from __future__ import annotations

import contextlib
import json
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
) -> Iterator[str]:
    """A throwaway Prometheus on 127.0.0.1 (storage in `tmp`); yields its base URL."""
    prometheus = require_program("prometheus", why="apt-get install prometheus")
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
