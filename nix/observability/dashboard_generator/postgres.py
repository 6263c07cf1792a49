# ruff: noqa: E501  (long query strings and panel descriptions read better unwrapped)
"""The PostgreSQL dashboard: postgres_exporter (job postgres) and the backend's connection pool."""

from __future__ import annotations

from .grafana import Dashboard, dashboard, stat, target, timeseries, up_stat
from .promql import BACKEND, BACKUP_THRESHOLDS, RESTORE_THRESHOLDS, backup_age, restore_age

POSTGRES = 'job="postgres"'
DATABASES = f'{POSTGRES},datname!~"template.*"'


def pg_rate(column: str, by: str = "datname") -> str:
    return f"sum by ({by}) (rate(pg_stat_database_{column}{{{DATABASES}}}[5m]))"


def board() -> Dashboard:
    return dashboard(
        "mainplatform-postgres",
        "Main Platform / PostgreSQL",
        "PostgreSQL 16 through postgres_exporter (job postgres), and the backend's own connection pool.",
        [
            [
                up_stat(
                    "PostgreSQL up",
                    "postgres_exporter can connect to PostgreSQL (pg_up).",
                    f"pg_up{{{POSTGRES}}}",
                ),
                stat(
                    "Connections",
                    "Backends connected to every database.",
                    [target(f"sum(pg_stat_database_numbackends{{{POSTGRES}}})")],
                ),
                stat(
                    "Max connections",
                    "The server's max_connections.",
                    [target(f"max(pg_settings_max_connections{{{POSTGRES}}})")],
                ),
                stat(
                    "Total size",
                    "Disk used by every database except the templates.",
                    [target(f"sum(pg_database_size_bytes{{{DATABASES}}})")],
                    unit="bytes",
                ),
                stat(
                    "Transactions",
                    "Commits and rollbacks per second, every database.",
                    [
                        target(
                            f"sum(rate(pg_stat_database_xact_commit{{{DATABASES}}}[5m])) + sum(rate(pg_stat_database_xact_rollback{{{DATABASES}}}[5m]))"
                        )
                    ],
                    unit="ops",
                ),
                stat(
                    "Last backup",
                    "Age of the last successful PostgreSQL backup (alert BackupTooOld after a day).",
                    [target(backup_age("postgres"))],
                    unit="s",
                    thresholds=BACKUP_THRESHOLDS,
                ),
            ],
            [
                timeseries(
                    "Connections by database",
                    "Backends connected per database, against max_connections.",
                    [
                        target(
                            f"sum by (datname) (pg_stat_database_numbackends{{{DATABASES}}})",
                            "{{datname}}",
                        ),
                        target(
                            f"max(pg_settings_max_connections{{{POSTGRES}}})", "max_connections"
                        ),
                    ],
                ),
                timeseries(
                    "Transactions per second",
                    "Commits and rollbacks per database.",
                    [
                        target(pg_rate("xact_commit"), "commit {{datname}}"),
                        target(pg_rate("xact_rollback"), "rollback {{datname}}"),
                    ],
                    unit="ops",
                ),
            ],
            [
                timeseries(
                    "Buffer cache hit ratio",
                    "Blocks found in shared buffers as a share of all blocks read (empty while idle).",
                    [
                        target(
                            f"{pg_rate('blks_hit')} / ({pg_rate('blks_hit')} + {pg_rate('blks_read')})",
                            "{{datname}}",
                        )
                    ],
                    unit="percentunit",
                    max_value=1,
                ),
                timeseries(
                    "Rows per second",
                    "Rows returned, fetched, inserted, updated and deleted, every database.",
                    [
                        target(f"sum(rate(pg_stat_database_tup_{op}{{{DATABASES}}}[5m]))", op)
                        for op in ("returned", "fetched", "inserted", "updated", "deleted")
                    ],
                    unit="rowsps",
                ),
            ],
            [
                timeseries(
                    "Deadlocks and temporary files",
                    "Deadlocks per 5 minutes, and bytes written to temporary files per second (queries spilling out of work_mem).",
                    [
                        target(
                            f"sum(increase(pg_stat_database_deadlocks{{{DATABASES}}}[5m]))",
                            "deadlocks",
                        ),
                        target(
                            f"sum(rate(pg_stat_database_temp_bytes{{{DATABASES}}}[5m]))",
                            "temp bytes/s",
                        ),
                    ],
                ),
                timeseries(
                    "Database size",
                    "Disk used per database.",
                    [
                        target(
                            f"sum by (datname) (pg_database_size_bytes{{{DATABASES}}})",
                            "{{datname}}",
                        )
                    ],
                    unit="bytes",
                ),
            ],
            [
                stat(
                    "Last PITR backup",
                    "Age of the newest pgBackRest backup, full or differential (alert BackupTooOld after a day).",
                    [target(backup_age("pitr"))],
                    unit="s",
                    thresholds=BACKUP_THRESHOLDS,
                ),
                stat(
                    "WAL archive lag",
                    "Seconds since PostgreSQL last archived a WAL segment (pg_stat_archiver); at most archive_timeout while there are writes, growing while the database is idle.",
                    [target(f"max(pg_stat_archiver_last_archive_age{{{POSTGRES}}})")],
                    unit="s",
                ),
                stat(
                    "WAL archive failures",
                    "archive-push failures in the last hour (alert WalArchivingFailing).",
                    [target(f"sum(increase(pg_stat_archiver_failed_count{{{POSTGRES}}}[1h]))")],
                ),
                stat(
                    "Last verified restore",
                    "Time since the restore drill last restored the newest backup and found it matching the live database (alert RestoreNotVerified after 26 h).",
                    [target(restore_age())],
                    unit="s",
                    thresholds=RESTORE_THRESHOLDS,
                ),
                stat(
                    "Restore drill duration",
                    "How long the last passing drill took until the restored cluster answered queries: the restore time to expect.",
                    [target('max(mainplatform_restore_duration_seconds{job="node"})')],
                    unit="s",
                ),
                stat(
                    "Last drill",
                    "1 if the last restore drill passed, 0 if it failed (alert RestoreDrillFailed).",
                    [target('min(mainplatform_restore_drill_success{job="node"})')],
                ),
            ],
            [
                timeseries(
                    "Backend pool connections",
                    "The backend's side: its pool's size, idle and in-use connections, and requests waiting for one.",
                    [
                        target(
                            f"sum by (state) (mainplatform_db_pool_connections{{{BACKEND}}})",
                            "{{state}}",
                        )
                    ],
                ),
            ],
        ],
    )
