"""The mails the platform sends: subject, plain text and HTML for each kind.

Every value put into a mail (an address, an IP, a user agent) is escaped for the HTML
part; links are built from ``PUBLIC_URL`` only, never from a request's ``Host``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mainplatform.metrics import MailKind

APP = "Main Platform"


@dataclass(frozen=True, slots=True)
class Message:
    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class Paragraph:
    text: str
    link: str | None = None  # a button-like link after the text


def mask(email: str) -> str:
    """``a***@example.org``: enough for the owner to recognise, little for anyone else."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _origin(params: dict[str, Any]) -> str:
    agent = str(params.get("user_agent") or "an unknown browser or program")
    return f"from the IP address {params.get('ip') or 'unknown'}, using {agent}"


def compose(
    kind: MailKind, params: dict[str, Any], at: datetime, base: str, link: str | None
) -> Message:
    """The mail of this kind. ``link`` is the action link (verification or reset) when the
    kind has one; ``base`` is the public origin for the other links."""
    reset_page = f"{base}/forgot-password"
    account_page = f"{base}/account"
    when, origin = _when(at), _origin(params)
    not_you = Paragraph(
        "If this was not you, reset your password now: it ends every session of your "
        "account. Then check your account's e-mail address.",
        reset_page,
    )
    subject: str
    body: list[Paragraph]
    if kind == "verify_email":
        assert link is not None
        hours = max(1, round(int(params.get("ttl", 86400)) / 3600))
        subject = f"Confirm your e-mail address for {APP}"
        body = [
            Paragraph("Please confirm that this is your address by opening this link:", link),
            Paragraph(f"The link works once, for {hours} hours."),
            Paragraph(f"If you did not create an account at {APP}, ignore this mail."),
        ]
    elif kind == "reset_password":
        assert link is not None
        minutes = max(1, round(int(params.get("ttl", 1800)) / 60))
        subject = f"Reset your {APP} password"
        body = [
            Paragraph(
                f"Someone (hopefully you) asked to reset the password of your account on {when},"
                f" {origin}. To choose a new password, open this link:",
                link,
            ),
            Paragraph(
                f"The link works once, for {minutes} minutes. Setting a new password signs "
                "you out everywhere."
            ),
            Paragraph("If you did not ask for this, ignore this mail: your password stays."),
        ]
    elif kind == "reset_no_password":
        provider = str(params.get("provider") or "your organisation's sign-in")
        subject = f"How you sign in to {APP}"
        body = [
            Paragraph(
                f"Someone (hopefully you) asked to reset the password of your account on {when},"
                f" {origin}. Your account has no password: you sign in with {provider}.",
                f"{base}/sign-in",
            ),
            Paragraph(
                f"Choose “Sign in with {provider}” on the sign-in page. If you cannot sign in "
                "there, ask the people who run it."
            ),
        ]
    elif kind == "password_changed":
        subject = f"Your {APP} password was changed"
        body = [
            Paragraph(f"The password of your account was changed on {when}, {origin}."),
            Paragraph("If this was you, there is nothing to do."),
            not_you,
        ]
    elif kind == "email_changed":
        subject = f"Your {APP} e-mail address was changed"
        body = [
            Paragraph(
                f"The e-mail address of your account was changed to "
                f"{mask(str(params.get('new_email', '')))} on {when}, {origin}. "
                "This address no longer signs in or receives mail from us."
            ),
            Paragraph("If this was you, there is nothing to do."),
            Paragraph(
                "If this was not you, someone knows your password: reset it from the sign-in "
                "page with your new address, or contact the people who run this service.",
                reset_page,
            ),
        ]
    elif kind == "refresh_reuse":
        subject = f"A {APP} session was ended for safety"
        body = [
            Paragraph(
                f"On {when} an old sign-in token of your account was used again, {origin}. "
                "That can mean someone copied it, so we ended that session."
            ),
            Paragraph(
                "If you just lost a connection or restored a browser, sign in again and all "
                "is well."
            ),
            not_you,
        ]
    elif kind == "new_device":
        subject = f"New sign-in to your {APP} account"
        body = [
            Paragraph(
                f"Your account was signed in to on {when}, {origin}, from a browser that had "
                "not signed in to it before."
            ),
            Paragraph("If this was you, there is nothing to do.", account_page),
            not_you,
        ]
    else:  # pragma: no cover - every kind is handled above
        raise ValueError(kind)
    return Message(subject, _text(body), _html(subject, body))


FOOTER = f"— {APP}. You get this mail because of your account with this address."


def _text(body: list[Paragraph]) -> str:
    parts = [p.text + (f"\n\n{p.link}" if p.link else "") for p in body]
    return "\n\n".join([*parts, FOOTER]) + "\n"


def _html(subject: str, body: list[Paragraph]) -> str:
    e = html.escape
    parts = []
    for p in body:
        parts.append(f"<p>{e(p.text)}</p>")
        if p.link:
            parts.append(
                f'<p><a href="{e(p.link, quote=True)}" style="font-weight:bold">{e(p.link)}</a></p>'
            )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(subject)}</title></head>"
        '<body style="font-family:sans-serif;line-height:1.5;max-width:40em">'
        f'<h1 style="font-size:1.25em">{e(subject)}</h1>{"".join(parts)}'
        f'<p style="color:#666;font-size:0.9em">{e(FOOTER)}</p></body></html>\n'
    )
