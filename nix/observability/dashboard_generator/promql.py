"""PromQL selectors and expressions that more than one dashboard uses.

Rate windows are fixed at 5m (four 15 s scrapes and more), so every query is plain PromQL
that Prometheus itself can evaluate.
"""

from __future__ import annotations

from .grafana import Steps

BACKEND = 'job="backend"'


def ratio_or_zero(part: str, whole: str, by: str = "") -> str:
    """sum(rate(part)) / sum(rate(whole)), with 0 (not "no data") while `part` has no series."""
    agg = f"sum{f' by ({by})' if by else ''}"
    return (
        f"({agg} (rate({part}[5m])) or {agg} (rate({whole}[5m])) * 0) / {agg} (rate({whole}[5m]))"
    )


def quantile(q: float, buckets: str, by: str = "") -> str:
    return f"histogram_quantile({q}, sum by (le{', ' + by if by else ''}) (rate({buckets}[5m])))"


def backup_age(kind: str) -> str:
    """Seconds since the last successful backup of `kind`, from the backup units' textfile
    metric (node_exporter)."""
    return (
        "time() - max(mainplatform_backup_last_success_timestamp_seconds"
        f'{{job="node",kind="{kind}"}})'
    )


# How a backup age is coloured: orange after a day, red after 25 hours, when the alert
# BackupTooOld fires (older than a day for 1h).
BACKUP_THRESHOLDS: Steps = [
    (None, "green"),
    (86400, "orange"),
    (90000, "red"),
]


# How the age of the last verified restore is coloured: orange after a day (one drill
# missed), red after 26 hours, when the alert RestoreNotVerified fires.
RESTORE_THRESHOLDS: Steps = [
    (None, "green"),
    (86400, "orange"),
    (93600, "red"),
]


def restore_age() -> str:
    """Seconds since a restore last passed the drill (mainplatform pitr drill's metric)."""
    return 'time() - max(mainplatform_restore_verified_timestamp_seconds{job="node"})'
