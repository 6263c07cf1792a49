"""Every PromQL expression the platform ships: each dashboard panel target and each rule.

    from tests.observability.queries import all_queries, jobs_needed, metric_names
    for source, expr in all_queries():
        ...  # evaluate against a Prometheus

`source` names where the expression comes from, stably (so an allow-list can refer to it):
  rule:<group>/<alert or recorded name>
  dashboard:<uid>/<panel title>/<refId>
Panel titles are unique within a dashboard and rule names within the file (tests check it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from mainplatform import pitr
from mainplatform.backup import SIZE_METRIC

ROOT = Path(__file__).resolve().parents[2]
OBSERVABILITY = ROOT / "nix" / "observability"
RULES_FILE = OBSERVABILITY / "alerts.yml"
RULES_TEST_FILE = OBSERVABILITY / "alerts.test.yml"
DASHBOARDS_DIR = OBSERVABILITY / "dashboards"
# The package that writes DASHBOARDS_DIR: `python3 -m GENERATOR_MODULE [--check]` from ROOT.
GENERATOR = OBSERVABILITY / "dashboard_generator"
GENERATOR_MODULE = "nix.observability.dashboard_generator"

# Grafana's built-in interval variables, should a query ever use them, and what to put in
# their place to evaluate it with Prometheus directly. Any other `$variable` is an error:
# the dashboards have no template variables.
GRAFANA_MACROS = {
    "$__rate_interval": "5m",
    "$__interval_ms": "60000",
    "$__interval": "1m",
    "$__range_s": "3600",
    "$__range_ms": "3600000",
    "$__range": "1h",
}


class Query(NamedTuple):
    source: str
    expr: str


def load_rules(path: Path = RULES_FILE) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path}: not a mapping"
    return data


def rules(path: Path = RULES_FILE) -> Iterator[tuple[str, dict[str, Any]]]:
    """(group name, rule) for every rule in the file, in order."""
    for group in load_rules(path)["groups"]:
        for rule in group["rules"]:
            yield group["name"], rule


def rule_name(rule: dict[str, Any]) -> str:
    return str(rule.get("alert") or rule["record"])


def alert_names(path: Path = RULES_FILE) -> list[str]:
    return [rule["alert"] for _, rule in rules(path) if "alert" in rule]


def recorded_names(path: Path = RULES_FILE) -> list[str]:
    return [rule["record"] for _, rule in rules(path) if "record" in rule]


def rule_queries(path: Path = RULES_FILE) -> list[Query]:
    return [
        Query(f"rule:{group}/{rule_name(rule)}", str(rule["expr"]).strip())
        for group, rule in rules(path)
    ]


def dashboards(directory: Path = DASHBOARDS_DIR) -> dict[str, dict[str, Any]]:
    """File name -> parsed dashboard, for every dashboards/*.json."""
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.json"))
    }


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in (collapsed) rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def expand_grafana(expr: str) -> str:
    """Replace Grafana's interval macros; refuse any other variable."""
    for macro in sorted(GRAFANA_MACROS, key=len, reverse=True):
        expr = expr.replace(macro, GRAFANA_MACROS[macro]).replace(
            "${" + macro[1:] + "}", GRAFANA_MACROS[macro]
        )
    leftover = re.search(r"\$\{?\w+", expr)
    if leftover:
        raise ValueError(f"unknown Grafana variable {leftover.group(0)!r} in {expr!r}")
    return expr


def dashboard_queries(directory: Path = DASHBOARDS_DIR) -> list[Query]:
    found = []
    for board in dashboards(directory).values():
        for panel in panels(board):
            for target in panel.get("targets", []):
                if target.get("hide"):
                    continue
                expr = target.get("expr")
                if expr:
                    source = f"dashboard:{board['uid']}/{panel['title']}/{target['refId']}"
                    found.append(Query(source, expand_grafana(expr)))
    return found


def all_queries() -> list[Query]:
    """Every dashboard target expression, then every rule expression."""
    return dashboard_queries() + rule_queries()


# --- what an expression refers to ------------------------------------------------

_KEYWORDS = {
    "and",
    "or",
    "unless",
    "offset",
    "bool",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "inf",
    "nan",
}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w.:])[a-zA-Z_:][\w:]*")


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (a small lexer, enough for our queries:
    strings, label matchers, ranges and grouping label lists are removed first, then
    identifiers that are not keywords and not followed by "(" are metric names)."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _IDENT.finditer(text):
        name = match.group(0)
        rest = text[match.end() :].lstrip()
        if name.lower() in _KEYWORDS or rest.startswith("("):
            continue
        names.add(name)
    return names


def jobs_needed(expr: str) -> set[str]:
    """The scrape jobs an expression selects by an exact `job="..."` matcher."""
    return set(re.findall(r'\bjob\s*=\s*"([^"]*)"', expr))


# --- which queries may be empty on a healthy stack --------------------------------------

BACKUP_METRIC = "mainplatform_backup_last_success_timestamp_seconds"
# What the restore drill (mainplatform pitr drill) writes through the textfile collector.
RESTORE_METRICS = {
    pitr.RESTORE_METRIC,
    pitr.DURATION_METRIC,
    pitr.RUN_METRIC,
    pitr.SUCCESS_METRIC,
}
# Everything the platform's own units write there.
TEXTFILE_METRICS = {BACKUP_METRIC, SIZE_METRIC} | RESTORE_METRICS


def empty_reason(query: Query, jobs_scraped: set[str]) -> str | None:
    """Why `query` may legitimately return no series from a healthy, freshly started stack
    that scrapes `jobs_scraped` (e.g. {"backend", "traefik", "prometheus"}), after some
    traffic; None when it must return data. Everything else in the dashboards is written to
    return a series (a 0, not "no data") as soon as its job is scraped."""
    name = query.source.removeprefix("rule:").split("/", 1)[-1]
    if query.source.startswith("rule:") and name in set(alert_names()):
        return "an alert expression has no series while the alert is not firing"
    missing = jobs_needed(query.expr) - jobs_scraped
    if missing:
        return f"needs the {', '.join(sorted(missing))} job, which this stack does not scrape"
    if BACKUP_METRIC in metric_names(query.expr):
        return "no backup has run: the backup units (NixOS module) write this metric"
    if RESTORE_METRICS & metric_names(query.expr):
        return "no restore drill has run: the drill unit (NixOS module) writes this metric"
    return None
