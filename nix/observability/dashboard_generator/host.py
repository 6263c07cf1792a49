# ruff: noqa: E501  (long query strings and panel descriptions read better unwrapped)
"""The Host dashboard: the machine through node_exporter (job node), and the backups' age."""

from __future__ import annotations

from .grafana import Dashboard, dashboard, stat, target, timeseries

NODE = 'job="node"'
REAL_FS = f'{NODE},fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs|fuse.*"'
REAL_DISKS = f'{NODE},device!~"loop.*|ram.*|zram.*"'


def board() -> Dashboard:
    cpus = f"count(count by (cpu) (node_cpu_seconds_total{{{NODE}}}))"
    return dashboard(
        "mainplatform-host",
        "Main Platform / Host",
        "The machine through node_exporter (job node): CPU, memory, disks, network, backups.",
        [
            [
                stat(
                    "CPU busy",
                    "Share of CPU time not idle, all cores, over 5 minutes.",
                    [target(f'1 - avg(rate(node_cpu_seconds_total{{{NODE},mode="idle"}}[5m]))')],
                    unit="percentunit",
                    thresholds=[(None, "green"), (0.7, "orange"), (0.9, "red")],
                ),
                stat(
                    "Memory used",
                    "1 - MemAvailable / MemTotal.",
                    [
                        target(
                            f"1 - sum(node_memory_MemAvailable_bytes{{{NODE}}}) / sum(node_memory_MemTotal_bytes{{{NODE}}})"
                        )
                    ],
                    unit="percentunit",
                    thresholds=[(None, "green"), (0.8, "orange"), (0.9, "red")],
                ),
                stat(
                    "Root filesystem used",
                    "Share of / in use (alerts DiskFilling and DiskAlmostFull watch every real filesystem).",
                    [
                        target(
                            f'1 - sum(node_filesystem_avail_bytes{{{NODE},mountpoint="/"}})'
                            f' / sum(node_filesystem_size_bytes{{{NODE},mountpoint="/"}})'
                        )
                    ],
                    unit="percentunit",
                    thresholds=[(None, "green"), (0.85, "orange"), (0.95, "red")],
                ),
                stat(
                    "Load (1m)",
                    "One-minute load average.",
                    [target(f"max(node_load1{{{NODE}}})")],
                    decimals=2,
                ),
                stat(
                    "CPUs",
                    "Logical CPUs.",
                    [target(cpus)],
                ),
                stat(
                    "Uptime",
                    "Time since boot.",
                    [target(f"time() - max(node_boot_time_seconds{{{NODE}}})")],
                    unit="s",
                ),
            ],
            [
                timeseries(
                    "CPU usage by mode",
                    "Share of CPU time per mode (idle left out), averaged over the cores.",
                    [
                        target(
                            f'avg by (mode) (rate(node_cpu_seconds_total{{{NODE},mode!="idle"}}[5m]))',
                            "{{mode}}",
                        )
                    ],
                    unit="percentunit",
                    stack=True,
                ),
                timeseries(
                    "Load average",
                    "1, 5 and 15-minute load averages against the number of CPUs.",
                    [
                        target(f"max(node_load1{{{NODE}}})", "1m"),
                        target(f"max(node_load5{{{NODE}}})", "5m"),
                        target(f"max(node_load15{{{NODE}}})", "15m"),
                        target(cpus, "CPUs"),
                    ],
                ),
            ],
            [
                timeseries(
                    "Memory",
                    "Total, available, and in use (total - available).",
                    [
                        target(f"sum(node_memory_MemTotal_bytes{{{NODE}}})", "total"),
                        target(f"sum(node_memory_MemAvailable_bytes{{{NODE}}})", "available"),
                        target(
                            f"sum(node_memory_MemTotal_bytes{{{NODE}}}) - sum(node_memory_MemAvailable_bytes{{{NODE}}})",
                            "used",
                        ),
                    ],
                    unit="bytes",
                ),
                timeseries(
                    "Filesystem free",
                    "Free share of each real filesystem (alerts: DiskFilling below 15% and falling, DiskAlmostFull below 5%).",
                    [
                        target(
                            f"node_filesystem_avail_bytes{{{REAL_FS}}} / node_filesystem_size_bytes{{{REAL_FS}}}",
                            "{{mountpoint}}",
                        )
                    ],
                    unit="percentunit",
                    max_value=1,
                ),
            ],
            [
                timeseries(
                    "Disk I/O",
                    "Bytes read and written per second, per disk.",
                    [
                        target(
                            f"sum by (device) (rate(node_disk_read_bytes_total{{{REAL_DISKS}}}[5m]))",
                            "read {{device}}",
                        ),
                        target(
                            f"sum by (device) (rate(node_disk_written_bytes_total{{{REAL_DISKS}}}[5m]))",
                            "written {{device}}",
                        ),
                    ],
                    unit="Bps",
                ),
                timeseries(
                    "Network traffic",
                    "Bytes received and sent per second, per interface (loopback left out).",
                    [
                        target(
                            f'sum by (device) (rate(node_network_receive_bytes_total{{{NODE},device!="lo"}}[5m]))',
                            "in {{device}}",
                        ),
                        target(
                            f'sum by (device) (rate(node_network_transmit_bytes_total{{{NODE},device!="lo"}}[5m]))',
                            "out {{device}}",
                        ),
                    ],
                    unit="Bps",
                ),
            ],
            [
                timeseries(
                    "Backup age",
                    "Time since the last successful backup of each kind, from the backup units' textfile metric (alert BackupTooOld after a day).",
                    [
                        target(
                            f"time() - max by (kind) (mainplatform_backup_last_success_timestamp_seconds{{{NODE}}})",
                            "{{kind}}",
                        )
                    ],
                    unit="s",
                ),
            ],
        ],
    )
