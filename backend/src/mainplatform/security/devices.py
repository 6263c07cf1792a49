"""Device cookies (OWASP "Slow Down Online Guessing Attacks with Device Cookies").

A client that signed in to an account before carries a cookie bound to that account by a
MAC; its login attempts are charged to a budget of its own. Attempts without one (or with
a cookie for another account) share the account's budget for unknown clients. Guessing an
account's password from elsewhere therefore stays slow, but cannot lock its owner out of a
device they used before.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

DEVICE_COOKIE = "mp_device"
DEVICE_COOKIE_MAX_AGE = 365 * 24 * 3600
_MAX_COOKIE_CHARS = 128


class DeviceCookies:
    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"mainplatform-device-cookie:" + secret.encode()).digest()

    def issue(self, email: str) -> str:
        nonce = secrets.token_urlsafe(16)
        return f"{nonce}.{self._mac(email, nonce)}"

    def device(self, cookie: str | None, email: str) -> str | None:
        """The device id if ``cookie`` is one we issued for ``email``, else None."""
        if not cookie or len(cookie) > _MAX_COOKIE_CHARS:
            return None
        nonce, _, mac = cookie.partition(".")
        expected = self._mac(email, nonce)
        if not nonce or not hmac.compare_digest(mac.encode("utf-8", "replace"), expected.encode()):
            return None
        return nonce

    def _mac(self, email: str, nonce: str) -> str:
        message = f"{email.lower()}\x00{nonce}".encode("utf-8", "replace")
        digest = hmac.digest(self._key, message, "sha256")[:18]
        return base64.urlsafe_b64encode(digest).decode()
