"""Prometheus metrics, correct across several uvicorn worker processes.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``mainplatform serve`` sets it for more than one
worker), every worker writes its samples to files there and ``/metrics`` merges them, so a
scrape that lands on any worker sees the whole service.
"""

from __future__ import annotations

import os
from typing import Literal, get_args

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    multiprocess,
    values,
)

AuthEvent = Literal[
    "register",
    "login_success",
    "login_failure",
    "refresh",
    "refresh_reuse_detected",
    "refresh_rejected",
    "refresh_retried",
    "logout",
    "logout_all",
    "password_changed",
    "rate_limited",
    "token_rejected",
    "password_reset_requested",
    "password_reset",
    "email_verification_requested",
    "email_verified",
    "account_token_rejected",
]

# What a mail is about (the ``kind`` label of mainplatform_mail_sent_total).
MailKind = Literal[
    "verify_email",
    "reset_password",
    "reset_no_password",
    "password_changed",
    "email_changed",
    "refresh_reuse",
    "new_device",
]
# sent; retried (an attempt failed, another follows); failed (given up); skipped (nothing
# to send any more: an unknown address, an address since verified or changed); dropped (the
# outbox was full); disabled (mail is off: no SMTP_HOST).
MailResult = Literal["sent", "retried", "failed", "skipped", "dropped", "disabled"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


_PID = [os.getpid()]
os.register_at_fork(after_in_child=lambda: _PID.__setitem__(0, os.getpid()))


def use_multiprocess_values() -> None:
    """Pick prometheus-client's value class for the worker processes (it picks one when
    first imported, which may have been before ``PROMETHEUS_MULTIPROC_DIR`` was set). The
    process id it checks on every sample write comes from a fork hook here instead of an
    ``os.getpid()`` system call each time."""
    if multiprocess_dir():
        values.ValueClass = values.MultiProcessValue(process_identifier=lambda: _PID[0])  # type: ignore[no-untyped-call]
    else:
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.multiprocess = multiprocess_dir() is not None
        if not self.multiprocess:
            ProcessCollector(registry=self.registry)
        r = self.registry
        self.requests = Counter(
            "mainplatform_http_requests_total",
            "HTTP requests by method, route template and status code.",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "mainplatform_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "mainplatform_http_requests_in_flight",
            "HTTP requests being answered now.",
            multiprocess_mode="livesum",
            registry=r,
        )
        self.auth_events = Counter(
            "mainplatform_auth_events_total",
            "Authentication events: logins, refreshes, reuse detected, rate limited.",
            ["event"],
            registry=r,
        )
        self.mail_sent = Counter(
            "mainplatform_mail_sent_total",
            "Mails by kind and outcome of a delivery attempt (or of queueing it).",
            ["kind", "result"],
            registry=r,
        )
        self.mail_outbox = Gauge(
            "mainplatform_mail_outbox_pending",
            "Mails waiting in the outbox (queued or waiting for a retry).",
            multiprocess_mode="max",
            registry=r,
        )
        self.db_pool = Gauge(
            "mainplatform_db_pool_connections",
            "Database pool connections by state (size, idle, in_use, waiting clients).",
            ["state"],
            multiprocess_mode="livesum",
            registry=r,
        )
        self.info = Gauge(
            "mainplatform_build_info",
            "Version of the running backend.",
            ["version"],
            multiprocess_mode="liveall",
            registry=r,
        )
        for event in get_args(AuthEvent):  # every series exists from the start, at 0
            self.auth_events.labels(event)
        for kind in get_args(MailKind):
            for result in get_args(MailResult):
                self.mail_sent.labels(kind, result)
        self._children: dict[tuple[str, str], tuple[Histogram, dict[int, Counter]]] = {}
        # Requests being answered by this worker: a plain int on the hot path (the gauge's
        # multiprocess file is written by ``sample``, every few seconds and on a scrape).
        self.in_flight_now = 0

    def sample(self) -> None:
        self.in_flight.set(self.in_flight_now)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route)
        entry = self._children.get(key)
        if entry is None:
            entry = (self.latency.labels(method, route), {})
            self._children[key] = entry
        histogram, counters = entry
        histogram.observe(seconds)
        counter = counters.get(status)
        if counter is None:
            counter = counters[status] = self.requests.labels(method, route, str(status))
        counter.inc()

    def auth(self, event: AuthEvent) -> None:
        self.auth_events.labels(event).inc()

    def mail(self, kind: MailKind, result: MailResult) -> None:
        self.mail_sent.labels(kind, result).inc()

    def pool_stats(self, stats: dict[str, int]) -> None:
        size = stats.get("pool_size", 0)
        idle = stats.get("pool_available", 0)
        self.db_pool.labels("size").set(size)
        self.db_pool.labels("idle").set(idle)
        self.db_pool.labels("in_use").set(size - idle)
        self.db_pool.labels("waiting").set(stats.get("requests_waiting", 0))

    def render(self) -> bytes:
        self.sample()
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)

    @staticmethod
    def worker_exit(pid: int) -> None:
        if multiprocess_dir():
            multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
