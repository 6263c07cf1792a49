"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the tests that
read the mails the backend sends: plain, STARTTLS or implicit TLS, with AUTH if asked."""

from __future__ import annotations

import contextlib
import datetime
import email
import email.policy
import ipaddress
import re
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.processes import free_port

LINK = re.compile(r"https?://[^\s<>\"]+")


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        content: str = body.get_content()  # type: ignore[attr-defined]
        return content

    @property
    def text(self) -> str:
        return self.part("plain")

    @property
    def html(self) -> str:
        return self.part("html")

    def link(self, contains: str) -> str:
        """The first link of the text part that contains ``contains``."""
        for url in LINK.findall(self.text):
            if contains in url:
                return str(url)
        raise AssertionError(f"no link with {contains!r} in:\n{self.text}")


@dataclass
class Sink:
    """What the server received, and replies to play: ``refuse`` holds SMTP replies (like
    "451 4.3.0 Try again later") that the next DATA commands get instead of "250 OK"."""

    host: str
    port: int
    received: list[Received] = field(default_factory=list)
    refuse: list[str] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.refuse:
                return self.refuse.pop(0)
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.received if address.lower() in map(str.lower, m.recipients)]

    def wait(
        self, address: str, subject: str = "", *, count: int = 1, timeout: float = 15
    ) -> Received:
        """The ``count``-th mail to ``address`` whose subject contains ``subject``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.to(address) if subject in m.subject]
            if len(found) >= count:
                return found[count - 1]
            time.sleep(0.05)
        subjects = [m.subject for m in self.to(address)]
        raise AssertionError(f"no mail {subject!r} to {address} (got {subjects})")

    def settings(self, **extra: object) -> dict[str, object]:
        """The Settings fields that send to this server (plain SMTP unless overridden)."""
        return {"smtp_host": self.host, "smtp_port": self.port, "smtp_tls": "NONE", **extra}

    def env(self) -> dict[str, str]:
        return {"SMTP_HOST": self.host, "SMTP_PORT": str(self.port), "SMTP_TLS": "NONE"}


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@contextlib.contextmanager
def smtp_server(
    *, tls: str = "NONE", credentials: tuple[str, str] | None = None
) -> Iterator[tuple[Sink, Path | None]]:
    """An SMTP server on 127.0.0.1; ``tls`` as SMTP_TLS says it (NONE, STARTTLS, TLS).
    Yields the sink and, with TLS, the certificate file (the CA to trust)."""
    sink = Sink("127.0.0.1", free_port())
    with tempfile.TemporaryDirectory(prefix="mainplatform-smtp-") as tmp:
        cert: Path | None = None
        kwargs: dict[str, Any] = {}
        if tls != "NONE":
            cert, key = self_signed(Path(tmp))
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            if tls == "TLS":
                kwargs["ssl_context"] = context
                # aiosmtpd only counts STARTTLS as TLS when it decides whether to offer
                # AUTH; on an implicit-TLS socket the whole session is encrypted anyway.
                kwargs["auth_require_tls"] = False
            else:
                kwargs["tls_context"] = context
                kwargs["require_starttls"] = True
        if credentials is not None:

            def authenticator(
                server: Any, session: Any, envelope: Any, mechanism: str, data: Any
            ) -> AuthResult:
                ok = (
                    isinstance(data, LoginPassword)
                    and (
                        data.login.decode(),
                        data.password.decode(),
                    )
                    == credentials
                )
                if ok:
                    sink.logins.append(data.login.decode())
                return AuthResult(success=ok)

            kwargs["authenticator"] = authenticator
            kwargs["auth_required"] = True
        controller = Controller(sink, hostname=sink.host, port=sink.port, **kwargs)
        controller.start()
        try:
            yield sink, cert
        finally:
            controller.stop()


@contextlib.contextmanager
def smtp_sink() -> Iterator[Sink]:
    with smtp_server() as (sink, _):
        yield sink
