"""The local stack's SMTP sink: every mail the backend sends becomes an .eml file in the
state directory, and a verification link in it works through the stack's entrypoint."""

from __future__ import annotations

import email
import email.policy
import re
import smtplib
import subprocess
from email.message import EmailMessage
from pathlib import Path

import httpx2 as httpx
from mainplatform_dev.stack import Stack, mail_sink_command, smtp_answers

from tests.support import STRONG_PASSWORD, free_port, stop_process, wait_until


def test_the_sink_keeps_each_mail_as_an_eml_file(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(mail_sink_command(port, tmp_path))
    try:
        wait_until(lambda: smtp_answers(port), what="the sink")
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = "a@example.org", "b@example.org", "Hello there"
        mail.set_content("line one\n.line starting with a dot\n")
        mail.add_alternative("<p>hi</p>", subtype="html")
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
            smtp.send_message(mail)
        (path,) = tmp_path.glob("*.eml")
        assert path.name.endswith("-hello-there.eml")
        kept = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert kept["Subject"] == "Hello there"
        body = kept.get_body(preferencelist=("plain",))
        assert body is not None
        content = body.get_content()  # type: ignore[attr-defined]
        assert content.replace("\r\n", "\n") == "line one\n.line starting with a dot\n"
    finally:
        stop_process(proc)


def test_sign_up_in_the_stack_leaves_a_verification_mail(stack: Stack) -> None:
    r = httpx.post(
        f"{stack.url}/api/auth/register",
        json={"email": "stack-mail@example.org", "password": STRONG_PASSWORD},
        timeout=10,
    )
    assert r.status_code == 201, r.text

    def mine() -> list[EmailMessage]:
        found = []
        for path in stack.mail_dir.glob("*confirm-your-e-mail*.eml"):
            kept = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if kept["To"] == "stack-mail@example.org" and isinstance(kept, EmailMessage):
                found.append(kept)
        return found

    wait_until(lambda: bool(mine()), what="the mail")
    (kept,) = mine()
    part = kept.get_body(preferencelist=("plain",))
    assert part is not None
    text = part.get_content()  # type: ignore[attr-defined]
    link = re.search(r"(http://127\.0\.0\.1:\d+/verify-email#token=[\w-]+)", text)
    assert link and link.group(1).startswith(stack.url)
    token = link.group(1).split("#token=")[1]
    r = httpx.post(f"{stack.url}/api/auth/email/verify", json={"token": token}, timeout=10)
    assert r.status_code == 204
