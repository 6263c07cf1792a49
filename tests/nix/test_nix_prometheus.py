"""promtool accepts the Prometheus configuration rendered by nix/lib."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.nix import lib_call
from tests.support.programs import require_program

RULES = """\
groups:
  - name: nix-lib-test
    rules:
      - alert: BackendDown
        expr: up{job="backend"} == 0
        for: 1m
        labels:
          severity: critical
        annotations:
          summary: The backend is down
"""


@pytest.mark.parametrize("mode", ["local", "production"])
def test_promtool_accepts_rendered_config(mode: str, tmp_path: Path) -> None:
    promtool = require_program("promtool", why="apt-get install prometheus")
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "platform.yml").write_text(RULES, encoding="utf-8")

    settings: dict[str, Any] = {
        "mode": mode,
        "paths": {"prometheusRules": [str(rules_dir / "*.yml")]},
    }
    if mode == "production":
        settings |= {"domain": "platform.example.org", "acmeEmail": "ops@example.org"}
    config = lib_call("prometheusConfig", settings)
    config_file = tmp_path / "prometheus.json"  # JSON is YAML
    config_file.write_text(json.dumps(config, indent=2), encoding="utf-8")

    proc = subprocess.run(
        [promtool, "check", "config", str(config_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "SUCCESS" in output
    assert "1 rules found" in output  # the rule_files glob was followed
