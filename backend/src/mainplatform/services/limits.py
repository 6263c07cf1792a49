"""The rate-limit budgets of the platform (GCRA in Redis, ``cache.Cache.check``)."""

from __future__ import annotations

from mainplatform.cache import Cache, Limit, limit_key
from mainplatform.config import Settings
from mainplatform.errors import RateLimited
from mainplatform.metrics import Metrics


class Limits:
    def __init__(self, settings: Settings, cache: Cache, metrics: Metrics) -> None:
        self.settings = settings
        self.cache = cache
        self.metrics = metrics

    async def charge(self, *limits: Limit) -> None:
        """Charge every budget at once, or none: 429 with ``Retry-After`` when one is spent."""
        wait = (await self.cache.check(limits)).wait
        if wait:
            self.metrics.auth("rate_limited")
            raise RateLimited(wait)

    def ip(self, ip: str) -> Limit:
        """The general budget of a client IP (unauthenticated calls)."""
        return Limit(limit_key("api-ip", ip), self.settings.rate_limit_api)

    def user(self, user_id: int) -> Limit:
        """The general budget of a signed-in user."""
        return Limit(limit_key("api-user", str(user_id)), self.settings.rate_limit_api)

    def register(self, ip: str) -> list[Limit]:
        return [
            Limit(limit_key("register-ip", ip), self.settings.rate_limit_register_ip),
            self.ip(ip),
        ]

    def mail(self, email: str, ip: str) -> list[Limit]:
        """Asking for a reset or verification mail: per address (whether or not an account
        has it, so the answer tells nothing), per client IP, and the IP's general budget."""
        return [
            Limit(limit_key("mail-address", email.lower()), self.settings.rate_limit_mail_address),
            Limit(limit_key("mail-ip", ip), self.settings.rate_limit_mail_ip),
            self.ip(ip),
        ]

    def login(self, email: str, ip: str, device: str | None) -> list[Limit]:
        """A sign-in attempt is charged to its IP, and to the device that signed in to this
        account before (its device cookie) or, without one, to the account's budget for
        unknown clients: guessing exhausts the latter, the owner's own browser keeps going."""
        if device is not None:
            account = Limit(
                limit_key("login-device", device), self.settings.rate_limit_login_device
            )
        else:
            account = Limit(
                limit_key("login-account", email.lower()), self.settings.rate_limit_login_account
            )
        return [account, Limit(limit_key("login-ip", ip), self.settings.rate_limit_login_ip)]
