"""Every query the dashboards and rules contain: extracted, parsed by a real Prometheus,
and referring only to metrics that exist (the backend's from its own registry; Traefik's
and node_exporter's from the real programs when installed; the other exporters' from a
list checked against their sources)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mainplatform import pitr
from mainplatform.backup import Result, write_metrics
from mainplatform.metrics import Metrics
from tests.observability.queries import (
    BACKUP_METRIC,
    RULES_FILE,
    TEXTFILE_METRICS,
    all_queries,
    dashboard_queries,
    dashboards,
    empty_reason,
    expand_grafana,
    jobs_needed,
    metric_names,
    recorded_names,
    rule_queries,
    rules,
)
from tests.support.processes import alive, free_port, running, tail, wait_until
from tests.support.programs import require_program
from tests.support.prometheus import prometheus_running, query
from tests.support.web import http_get, require_traefik, traefik_running

# Exporter metrics the dashboards and rules use, as named by (checked in the sources):
# postgres_exporter collector/pg_database.go, pg_stat_database.go, pg_up and pg_settings_*;
# redis_exporter exporter/exporter.go (metricMapGauges/metricMapCounters, "up", "db_keys").
# Traefik v3 (pkg/metrics/prometheus.go) and node_exporter are also checked live below.
EXPORTER_METRICS = {
    "postgres": {
        "pg_up",
        "pg_settings_max_connections",
        "pg_database_size_bytes",
        "pg_stat_database_numbackends",
        "pg_stat_database_xact_commit",
        "pg_stat_database_xact_rollback",
        "pg_stat_database_blks_read",
        "pg_stat_database_blks_hit",
        "pg_stat_database_tup_returned",
        "pg_stat_database_tup_fetched",
        "pg_stat_database_tup_inserted",
        "pg_stat_database_tup_updated",
        "pg_stat_database_tup_deleted",
        "pg_stat_database_deadlocks",
        "pg_stat_database_temp_bytes",
        # collector/pg_stat_archiver (seen live from Debian's 0.11.1)
        "pg_stat_archiver_last_archive_age",
        "pg_stat_archiver_failed_count",
    },
    "redis": {
        "redis_up",
        "redis_uptime_in_seconds",
        "redis_connected_clients",
        "redis_blocked_clients",
        "redis_memory_used_bytes",
        "redis_memory_used_rss_bytes",
        "redis_memory_max_bytes",
        "redis_commands_processed_total",
        "redis_keyspace_hits_total",
        "redis_keyspace_misses_total",
        "redis_expired_keys_total",
        "redis_evicted_keys_total",
        "redis_net_input_bytes_total",
        "redis_net_output_bytes_total",
        "redis_db_keys",
    },
    "traefik": {
        "traefik_entrypoint_requests_total",
        "traefik_entrypoint_request_duration_seconds_bucket",
        "traefik_service_requests_total",
        "traefik_service_request_duration_seconds_bucket",
        "traefik_service_server_up",
        "traefik_open_connections",
        "traefik_config_reloads_total",
        "traefik_config_last_reload_success",
    },
    "node": {
        "node_boot_time_seconds",
        "node_cpu_seconds_total",
        "node_load1",
        "node_load5",
        "node_load15",
        "node_memory_MemTotal_bytes",
        "node_memory_MemAvailable_bytes",
        "node_filesystem_avail_bytes",
        "node_filesystem_size_bytes",
        "node_filesystem_readonly",
        "node_disk_read_bytes_total",
        "node_disk_written_bytes_total",
        "node_network_receive_bytes_total",
        "node_network_transmit_bytes_total",
        # written by the backup units and the restore drill through the textfile collector
        *TEXTFILE_METRICS,
    },
}


def used_metrics() -> set[str]:
    return set().union(*(metric_names(expr) for _, expr in all_queries()))


def exposed_names(exposition: str) -> set[str]:
    """Metric names in Prometheus text format."""
    names = set()
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            names.add(line.split("{", 1)[0].split(" ", 1)[0])
    return names


# --- extraction ------------------------------------------------------------------


def test_all_queries_covers_every_panel_target_and_rule() -> None:
    queries = all_queries()
    sources = [q.source for q in queries]
    assert len(sources) == len(set(sources)), "sources must be unique"
    assert all(isinstance(q, tuple) and len(q) == 2 and q.expr.strip() for q in queries)

    targets = sum(
        len(panel.get("targets", []))
        for board in dashboards().values()
        for panel in board["panels"]
    )
    assert len(dashboard_queries()) == targets
    assert len(rule_queries()) == len(list(rules())) == len(queries) - targets
    uids = {q.source.split("/")[0] for q in dashboard_queries()}
    assert uids == {f"dashboard:{b['uid']}" for b in dashboards().values()}


def test_grafana_macros_are_expanded_and_unknown_variables_refused() -> None:
    assert expand_grafana("rate(x[$__rate_interval])") == "rate(x[5m])"
    assert expand_grafana("rate(x[${__interval}])") == "rate(x[1m])"
    with pytest.raises(ValueError, match="instance"):
        expand_grafana('up{instance="$instance"}')


def test_metric_names_and_jobs_of_an_expression() -> None:
    expr = (
        'sum by (job, le) (rate(a_bucket{job="backend",route=~"/api/.*"}[5m])) / on (job) '
        'group_left b:rec:rate5m or vector(0) and c offset 10m > bool 1e3 unless absent(d{x="y"})'
    )
    assert metric_names(expr) == {"a_bucket", "b:rec:rate5m", "c", "d"}
    assert jobs_needed(expr) == {"backend"}
    assert metric_names("time() - max(t)") == {"t"}
    assert metric_names("up") == {"up"}


# --- the metrics exist ---------------------------------------------------------------


def test_every_metric_used_is_known() -> None:
    known = (
        {"up"}
        | set(recorded_names())
        | set().union(*EXPORTER_METRICS.values())
        | backend_metric_names()
    )
    assert used_metrics() - known == set()


def backend_metric_names() -> set[str]:
    metrics = Metrics()
    metrics.observe("GET", "/api/health", 200, 0.01)
    metrics.auth("login_success")
    metrics.pool_stats({"pool_size": 2, "pool_available": 1, "requests_waiting": 0})
    metrics.info.labels("test").set(1)
    return exposed_names(metrics.render().decode())


def test_backend_metrics_used_are_exposed_by_the_backend() -> None:
    used = {
        n for n in used_metrics() if n.startswith("mainplatform_") and n not in TEXTFILE_METRICS
    }
    assert used
    assert used - backend_metric_names() == set()


def test_node_exporter_exposes_the_metrics_used(tmp_path: Path) -> None:
    exe = require_program(
        "prometheus-node-exporter", "node_exporter", why="apt-get install prometheus-node-exporter"
    )
    textfiles = tmp_path / "textfile"
    textfiles.mkdir()
    # What the backup units and the restore drill write, by their own code.
    write_metrics(textfiles, [Result("postgres", textfiles / "x.dump", 1, 1.7e9)])
    pitr.write_drill_metrics(textfiles, ok=True, ran=1.7e9, duration=12.5)
    port = free_port()
    log = tmp_path / "node_exporter.log"
    argv = [
        exe,
        f"--web.listen-address=127.0.0.1:{port}",
        f"--collector.textfile.directory={textfiles}",
    ]
    textfile_used = TEXTFILE_METRICS & used_metrics()
    wanted = {n for n in used_metrics() if n.startswith("node_")} | textfile_used
    assert wanted == EXPORTER_METRICS["node"] & used_metrics()
    assert {BACKUP_METRIC, pitr.RESTORE_METRIC} <= textfile_used
    with running(argv, log=log) as proc:

        def scrape() -> set[str] | None:
            alive(proc, "node_exporter", log)
            status, _, body = http_get(f"http://127.0.0.1:{port}/metrics", timeout=5)
            return exposed_names(body.decode()) if status == 200 else None

        exposed = wait_until(scrape, what="node_exporter /metrics", detail=lambda: tail(log))
    assert wanted - exposed == set()


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_traefik_exposes_the_metrics_used(tmp_path: Path, upstream: str) -> None:
    require_traefik()
    web, metrics_port = free_port(), free_port()
    dynamic = {
        "http": {
            "routers": {
                "all": {"rule": "PathPrefix(`/`)", "service": "up", "entryPoints": ["web"]}
            },
            "services": {
                "up": {
                    "loadBalancer": {
                        "servers": [{"url": upstream}],
                        "healthCheck": {"path": "/health", "interval": "1s", "timeout": "1s"},
                    }
                }
            },
        }
    }
    static = {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "log": {"level": "ERROR"},
        "entryPoints": {
            "web": {"address": f"127.0.0.1:{web}"},
            "metrics": {"address": f"127.0.0.1:{metrics_port}"},
        },
        "ping": {"entryPoint": "metrics"},
        "metrics": {
            "prometheus": {
                "entryPoint": "metrics",
                "addEntryPointsLabels": True,
                "addRoutersLabels": True,
                "addServicesLabels": True,
            }
        },
        "providers": {"file": {"filename": str(tmp_path / "dynamic.yml")}},
    }
    wanted = {n for n in used_metrics() if n.startswith("traefik_")}
    assert wanted == EXPORTER_METRICS["traefik"]
    with traefik_running(tmp_path, static, dynamic) as edge:

        def scrape() -> set[str] | None:
            alive(edge.proc, "traefik", edge.log)
            http_get(f"http://127.0.0.1:{web}/", timeout=5)  # some traffic
            status, _, body = http_get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)
            names = exposed_names(body.decode()) if status == 200 else set()
            return names if wanted <= names else None

        wait_until(
            scrape,
            what=f"Traefik to expose {sorted(wanted)}",
            interval=0.5,
            detail=edge.log_tail,
        )


# --- every query parses and every rule evaluates in a real Prometheus --------------------


def test_every_query_parses_and_every_rule_evaluates(tmp_path: Path) -> None:
    with prometheus_running(tmp_path, rule_files=[RULES_FILE]) as url:
        errors = []
        for source, expr in all_queries():
            answer = query(url, expr)
            if answer.get("status") != "success":
                errors.append(
                    f"{source}: {answer.get('errorType')}: {answer.get('error')}\n  {expr}"
                )
        assert not errors, "\n".join(errors)

        # The rules were loaded and each has been evaluated without error.
        expected = {name for name in (r.get("alert") or r["record"] for _, r in rules())}

        def evaluated() -> list[dict[str, Any]] | None:
            status, _, body = http_get(f"{url}/api/v1/rules", timeout=5)
            if status != 200:
                return None
            loaded = [r for g in json.loads(body)["data"]["groups"] for r in g["rules"]]
            done = [r for r in loaded if not r["lastEvaluation"].startswith("0001-")]
            return loaded if len(done) == len(expected) else None

        loaded = wait_until(evaluated, what="every rule to be evaluated once", interval=0.25)
        assert {r["name"] for r in loaded} == expected
        bad = [f"{r['name']}: {r.get('lastError')}" for r in loaded if r["health"] != "ok"]
        assert not bad, bad


def test_empty_reasons_for_a_local_stack() -> None:
    local = {"backend", "traefik", "prometheus"}
    reasons = {q.source: empty_reason(q, local) for q in all_queries()}
    # Every alert may be quiet; nothing from the backend or Traefik may be empty.
    assert reasons["rule:mainplatform-availability/BackendDown"]
    assert reasons["rule:mainplatform-http/High5xxRatio"]
    assert reasons["rule:mainplatform-recording/job:mainplatform_http_requests:rate5m"] is None
    assert reasons["dashboard:mainplatform-auth/Reuse detected (24h)/A"] is None
    assert reasons["dashboard:mainplatform-traefik/Backend servers healthy/A"] is None
    assert "redis" in str(reasons["dashboard:mainplatform-redis/Keys/A"])
    assert "node" in str(reasons["dashboard:mainplatform-host/Uptime/A"])
    with_node = empty_reason(
        next(q for q in all_queries() if q.source == "dashboard:mainplatform-host/Backup age/A"),
        local | {"node"},
    )
    assert "backup" in str(with_node)
    for source, reason in reasons.items():
        if source.startswith(("dashboard:mainplatform-overview/", "dashboard:mainplatform-auth/")):
            assert reason is None, source
