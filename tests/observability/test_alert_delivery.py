"""Alerts that reach someone, end to end with real programs: the real Prometheus evaluates
the shipped rules and sends to the real Alertmanager, configured by nix/lib's
alertmanagerConfig (checked by `amtool check-config`), which delivers to a real SMTP server
on loopback (aiosmtpd), to a webhook receiver, and the Watchdog to a heartbeat URL."""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.observability.queries import RULES_FILE
from tests.support.layout import NIX_LIB
from tests.support.nix import lib_call, nix_eval, to_nix
from tests.support.processes import free_port, wait_until
from tests.support.programs import require_program
from tests.support.prometheus import (
    alertmanager_running,
    amtool_check,
    prometheus_running,
    require_alertmanager,
)

# How long a delivery may take: Prometheus' first evaluations, then the critical route's
# group_wait (10 s in nix/lib/alertmanager.nix).
DELIVERY_TIMEOUT = 60


def render(settings: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = lib_call("alertmanagerConfig", settings)
    return config


PRODUCTION = {
    "mode": "production",
    "domain": "platform.example.org",
    "acmeEmail": "ops@example.org",
}


def test_the_rendered_configuration_passes_amtool(tmp_path: Path) -> None:
    full = render(
        PRODUCTION
        | {
            "alerting": {
                "email": {
                    "to": "oncall@example.org",
                    "from": "alerts@platform.example.org",
                    "smarthost": "smtp.example.org:587",
                    "username": "alerts",
                    "passwordFile": "/run/credentials/alertmanager.service/smtp_password",
                },
                "webhookUrl": "https://hooks.example.org/alerts",
                "heartbeatUrl": "https://hc-ping.example.org/uuid",
            }
        }
    )
    out = amtool_check(tmp_path, full)
    assert "4 receivers" in out
    assert full["global"]["smtp_auth_password_file"].startswith("/run/credentials/")
    assert "smtp_auth_password" not in full["global"], "no secret in the configuration"
    bare = render(PRODUCTION)  # nobody to tell yet: still a valid configuration
    amtool_check(tmp_path, bare)
    assert [r["name"] for r in bare["receivers"]] == ["none", "critical", "warning"]
    assert all(
        not r.get("email_configs") and not r.get("webhook_configs") for r in bare["receivers"]
    )


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=Watchdog", "severity=none"], "heartbeat"),
        (["alertname=BackendDown", "severity=critical"], "critical"),
        (["alertname=RestoreDrillFailed", "severity=warning"], "warning"),
        (["alertname=Unlabelled"], "none"),
    ],
)
def test_alertmanager_routes_by_severity(tmp_path: Path, labels: list[str], receiver: str) -> None:
    """Alertmanager's own router (`amtool config routes test`) on the rendered config."""
    amtool = require_program("amtool", why="apt-get install prometheus-alertmanager")
    config = render({"mode": "local", "alerting": {"heartbeatUrl": "http://127.0.0.1:1/hb"}})
    path = tmp_path / "am.yml"
    path.write_text(json.dumps(config), encoding="utf-8")
    proc = subprocess.run(
        [amtool, "config", "routes", "test", f"--config.file={path}", *labels],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert proc.stdout.strip() == receiver, proc.stdout + proc.stderr


def test_email_needs_a_sender_and_a_server() -> None:
    from tests.support.nix import nix_eval_error

    err = nix_eval_error(
        f"(import {NIX_LIB}).alertmanagerConfig "
        + to_nix({"mode": "local", "alerting": {"enable": True, "email": {"to": "a@b.c"}}})
    )
    assert "alerting.email needs from and smarthost" in err


def test_prometheus_sends_to_alertmanager_only_when_alerting_is_on() -> None:
    on = lib_call("prometheusConfig", {"mode": "local", "alerting": {"enable": True}})
    port = nix_eval(f'(import {NIX_LIB}).defaultsFor "local"')["ports"]["alertmanager"]
    assert on["alerting"]["alertmanagers"] == [
        {"static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
    ]
    assert lib_call("prometheusConfig", {"mode": "local"})["alerting"]["alertmanagers"] == []


# -- the receivers ----------------------------------------------------------------------------


@dataclass
class Inbox:
    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 OK"


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[int, Inbox]]:
    controller_mod = pytest.importorskip("aiosmtpd.controller", reason="pip install aiosmtpd")
    inbox = Inbox()
    port = free_port()
    controller = controller_mod.Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


@contextlib.contextmanager
def webhook_server() -> Iterator[tuple[int, dict[str, list[dict[str, Any]]]]]:
    """POSTed JSON bodies by path."""
    received: dict[str, list[dict[str, Any]]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received.setdefault(self.path, []).append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()
        server.server_close()


def body_text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    assert part is not None
    return str(part.get_content())


def rules_firing_at_once(tmp: Path) -> Path:
    """The shipped rules with BackendDown's `for:` removed, so that it fires on the first
    evaluation instead of after a minute; expression, labels and annotations unchanged."""
    data = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    found = False
    for group in data["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == "BackendDown":
                rule.pop("for")
                found = True
    assert found
    path = tmp / "rules.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def runbook_for(instance: str) -> str:
    data = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    rule = next(r for g in data["groups"] for r in g["rules"] if r.get("alert") == "BackendDown")
    return str(rule["annotations"]["runbook"]).replace("{{ $labels.instance }}", instance)


def test_a_firing_rule_reaches_mail_webhook_and_the_heartbeat(tmp_path: Path) -> None:
    require_alertmanager()
    with smtp_server() as (smtp_port, inbox), webhook_server() as (hook_port, posts):
        am_port = free_port()
        settings = {
            "mode": "local",
            "ports": {"alertmanager": am_port},
            "alerting": {
                "enable": True,
                "email": {
                    "to": "oncall@example.org",
                    "from": "alerts@example.org",
                    "smarthost": f"127.0.0.1:{smtp_port}",
                    "requireTls": False,  # aiosmtpd on loopback offers no STARTTLS
                },
                "webhookUrl": f"http://127.0.0.1:{hook_port}/hook",
                "heartbeatUrl": f"http://127.0.0.1:{hook_port}/heartbeat",
                "heartbeatInterval": "2s",
            },
        }
        config = render(settings)
        amtool_check(tmp_path, config)
        alerting = lib_call("prometheusConfig", settings)["alerting"]
        # a "backend" that is not there: up{job="backend"} == 0
        dead = f"127.0.0.1:{free_port()}"
        scrape = [{"job_name": "backend", "static_configs": [{"targets": [dead]}]}]
        with (
            alertmanager_running(tmp_path, config, am_port),
            prometheus_running(
                tmp_path,
                rule_files=[rules_firing_at_once(tmp_path)],
                scrape_configs=scrape,
                alerting=alerting,
            ),
        ):
            mail = wait_until(
                lambda: next(
                    (m for m in inbox.messages if "BackendDown" in str(m["Subject"])), None
                ),
                what="the BackendDown mail",
                timeout=DELIVERY_TIMEOUT,
            )
            wait_until(lambda: posts.get("/hook"), what="the webhook", timeout=DELIVERY_TIMEOUT)
            # Prometheus 2.42 first sent the Watchdog about 60 s after it started (the
            # BackendDown alert after 6 s), and Alertmanager forwarded it at once: so the
            # heartbeat service's period must be a few minutes, and this waits longer.
            wait_until(lambda: posts.get("/heartbeat"), what="a heartbeat", timeout=150)

    assert mail["To"] == "oncall@example.org"
    assert str(mail["Subject"]).startswith("[FIRING")
    assert "(critical)" in str(mail["Subject"])
    text = body_text(mail)
    assert "BackendDown [critical] firing" in text
    assert f"Runbook: {runbook_for(dead)}" in text
    assert "Watchdog" not in text, "the Watchdog goes to the heartbeat only"

    hook = posts["/hook"][0]
    assert hook["receiver"] == "critical" and hook["status"] == "firing"
    assert {a["labels"]["alertname"] for a in hook["alerts"]} == {"BackendDown"}
    assert hook["alerts"][0]["annotations"]["runbook"] == runbook_for(dead)

    beats = posts["/heartbeat"]
    assert all(b["receiver"] == "heartbeat" for b in beats)
    assert {a["labels"]["alertname"] for b in beats for a in b["alerts"]} == {"Watchdog"}
