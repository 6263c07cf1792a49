# ruff: noqa: E501  (long query strings and panel descriptions read better unwrapped)
"""The Redis dashboard: redis_exporter (job redis); rate limits and revocation lists live there."""

from __future__ import annotations

from .grafana import Dashboard, dashboard, stat, target, timeseries, up_stat
from .promql import BACKUP_THRESHOLDS, backup_age

REDIS = 'job="redis"'


def board() -> Dashboard:
    hits = f"sum(rate(redis_keyspace_hits_total{{{REDIS}}}[5m]))"
    misses = f"sum(rate(redis_keyspace_misses_total{{{REDIS}}}[5m]))"
    return dashboard(
        "mainplatform-redis",
        "Main Platform / Redis",
        "Redis 7 through redis_exporter (job redis): rate limits, revocation lists and caches live here.",
        [
            [
                up_stat(
                    "Redis up",
                    "redis_exporter can connect to Redis (redis_up).",
                    f"redis_up{{{REDIS}}}",
                ),
                stat(
                    "Connected clients",
                    "Client connections (the backend's workers and the exporter).",
                    [target(f"sum(redis_connected_clients{{{REDIS}}})")],
                ),
                stat(
                    "Memory used",
                    "Memory Redis has allocated (used_memory).",
                    [target(f"sum(redis_memory_used_bytes{{{REDIS}}})")],
                    unit="bytes",
                ),
                stat(
                    "Keys",
                    "Keys in every database.",
                    [target(f"sum(redis_db_keys{{{REDIS}}})")],
                ),
                stat(
                    "Uptime",
                    "Time since Redis started.",
                    [target(f"max(redis_uptime_in_seconds{{{REDIS}}})")],
                    unit="s",
                ),
                stat(
                    "Last backup",
                    "Age of the last successful Redis backup (alert BackupTooOld after a day).",
                    [target(backup_age("redis"))],
                    unit="s",
                    thresholds=BACKUP_THRESHOLDS,
                ),
            ],
            [
                timeseries(
                    "Commands per second",
                    "Commands processed per second (each authenticated API request runs one rate-limit and revocation script).",
                    [
                        target(
                            f"sum(rate(redis_commands_processed_total{{{REDIS}}}[5m]))", "commands"
                        )
                    ],
                    unit="ops",
                ),
                timeseries(
                    "Keyspace hit ratio",
                    "Key lookups that found the key (empty while there are no lookups).",
                    [target(f"{hits} / ({hits} + {misses})", "hit ratio")],
                    unit="percentunit",
                    max_value=1,
                ),
            ],
            [
                timeseries(
                    "Hits and misses per second",
                    "Key lookups that found, and did not find, the key.",
                    [target(hits, "hits"), target(misses, "misses")],
                    unit="ops",
                ),
                timeseries(
                    "Memory",
                    "used_memory, its resident size, and maxmemory (0: no limit).",
                    [
                        target(f"sum(redis_memory_used_bytes{{{REDIS}}})", "used"),
                        target(f"sum(redis_memory_used_rss_bytes{{{REDIS}}})", "rss"),
                        target(f"sum(redis_memory_max_bytes{{{REDIS}}})", "maxmemory"),
                    ],
                    unit="bytes",
                ),
            ],
            [
                timeseries(
                    "Clients",
                    "Connected clients, and clients blocked in a blocking call.",
                    [
                        target(f"sum(redis_connected_clients{{{REDIS}}})", "connected"),
                        target(f"sum(redis_blocked_clients{{{REDIS}}})", "blocked"),
                    ],
                ),
                timeseries(
                    "Expired and evicted keys per second",
                    "Keys removed because their TTL ran out, and keys evicted under maxmemory.",
                    [
                        target(f"sum(rate(redis_expired_keys_total{{{REDIS}}}[5m]))", "expired"),
                        target(f"sum(rate(redis_evicted_keys_total{{{REDIS}}}[5m]))", "evicted"),
                    ],
                    unit="ops",
                ),
            ],
            [
                timeseries(
                    "Keys by database",
                    "Keys per Redis database.",
                    [target(f"sum by (db) (redis_db_keys{{{REDIS}}})", "{{db}}")],
                ),
                timeseries(
                    "Network traffic",
                    "Bytes received and sent per second.",
                    [
                        target(f"sum(rate(redis_net_input_bytes_total{{{REDIS}}}[5m]))", "in"),
                        target(f"sum(rate(redis_net_output_bytes_total{{{REDIS}}}[5m]))", "out"),
                    ],
                    unit="Bps",
                ),
            ],
        ],
    )
