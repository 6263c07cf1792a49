"""The alert rules: promtool accepts them, their unit tests pass, and every alert is
unit-tested both firing and quiet."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
import yaml

from tests.observability.queries import (
    OBSERVABILITY,
    RULES_FILE,
    RULES_TEST_FILE,
    alert_names,
    recorded_names,
    rule_name,
    rules,
)
from tests.support.programs import require_program

# What issues 5 and 12 ask for (names as in alerts.yml).
REQUIRED_ALERTS = {
    "BackendDown",
    "High5xxRatio",
    "LatencyP99OverBudget",
    "RefreshTokenReuseDetected",
    "LoginFailureSpike",
    "PasswordResetSpike",
    "MailDeliveryFailing",
    "PostgresDown",
    "RedisDown",
    "TraefikDown",
    "DiskFilling",
    "BackupTooOld",
    "BackupMetricMissing",
    # issue 13
    "RestoreNotVerified",
    "RestoreDrillFailed",
    "Watchdog",
}
SEVERITIES = {"critical", "warning"}
# Alerts that fire on the first evaluation on purpose (no `for:`).
IMMEDIATE = {"RefreshTokenReuseDetected", "Watchdog"}
# The dead man's switch: always firing, routed only to the heartbeat URL (severity none).
ALWAYS = {"Watchdog"}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = require_program("promtool", why="apt-get install prometheus")
    return subprocess.run(
        [exe, *args], cwd=OBSERVABILITY, capture_output=True, text=True, timeout=120, check=False
    )


def test_promtool_check_rules() -> None:
    proc = promtool("check", "rules", str(RULES_FILE))
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "SUCCESS" in output
    assert f"{len(list(rules()))} rules found" in output


def test_promtool_test_rules() -> None:
    proc = promtool("test", "rules", str(RULES_TEST_FILE))
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "SUCCESS" in output


def test_the_required_alerts_exist_and_names_are_unique() -> None:
    names = [rule_name(rule) for _, rule in rules()]
    assert len(names) == len(set(names)), names
    assert set(alert_names()) >= REQUIRED_ALERTS


@pytest.mark.parametrize("name", recorded_names())
def test_recording_rule_names_follow_the_convention(name: str) -> None:
    # level:metric:operations, e.g. job:mainplatform_http_requests:rate5m
    assert re.fullmatch(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", name), name


def alert_rules() -> list[dict[str, Any]]:
    return [rule for _, rule in rules() if "alert" in rule]


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r["alert"])
def test_every_alert_has_severity_and_runbook_annotations(rule: dict[str, Any]) -> None:
    severities = {"none"} if rule["alert"] in ALWAYS else SEVERITIES
    assert rule["labels"]["severity"] in severities
    for key in ("summary", "description", "runbook"):
        assert str(rule["annotations"].get(key, "")).strip(), f"{rule['alert']}: no {key}"
    if rule["alert"] not in IMMEDIATE:
        assert rule.get("for"), f"{rule['alert']} has no `for:` (a single bad scrape would page)"


def unit_tests() -> list[dict[str, Any]]:
    data = yaml.safe_load(RULES_TEST_FILE.read_text(encoding="utf-8"))
    return [case for test in data["tests"] for case in test.get("alert_rule_test", [])]


@pytest.mark.parametrize("alert", alert_names())
def test_every_alert_is_unit_tested_firing_and_quiet(alert: str) -> None:
    cases = [case for case in unit_tests() if case["alertname"] == alert]
    assert any(case.get("exp_alerts") for case in cases), f"{alert}: no case where it fires"
    if alert not in ALWAYS:
        assert any(not case.get("exp_alerts") for case in cases), f"{alert}: never quiet"
    for case in cases:
        for expected in case.get("exp_alerts") or []:
            labels = expected["exp_labels"]
            assert labels.get("severity"), f"{alert}: a firing case does not check the labels"
            assert expected.get("exp_annotations"), f"{alert}: a firing case skips annotations"
