"""Settings, built once at start from the environment and passed down.

Every secret can be given three ways, first match wins:
``NAME`` (plain environment), ``NAME_FILE`` (a path to read), or a systemd credential
``$CREDENTIALS_DIRECTORY/<name in lower case>``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

MIN_SECRET_BYTES = 32


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``limit`` requests per ``period`` seconds (a burst of ``limit`` is allowed)."""

    limit: int
    period: float

    @classmethod
    def parse(cls, name: str, text: str) -> RateLimit:
        units = {"s": 1.0, "second": 1.0, "m": 60.0, "minute": 60.0, "h": 3600.0, "hour": 3600.0}
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d*\.?\d*)\s*([a-z]*)\s*", text)
        if not match:
            raise ConfigError(
                f"{name}: expected 'N/period' like '10/minute' or '5/30s', got {text!r}"
            )
        count, amount, unit = match.groups()
        if unit and unit not in units:
            raise ConfigError(f"{name}: unknown time unit {unit!r} (use s, m or h)")
        period = (float(amount) if amount else 1.0) * units.get(unit or "s", 1.0)
        if int(count) < 1 or period <= 0:
            raise ConfigError(f"{name}: the limit and the period must be positive, got {text!r}")
        return cls(int(count), period)

    def __str__(self) -> str:
        return f"{self.limit}/{self.period:g}s"


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = field(metadata={"secret": True})
    redis_url: str = field(metadata={"secret": True})
    jwt_secret: str = field(metadata={"secret": True})
    jwt_previous_secret: str | None = field(default=None, metadata={"secret": True})
    jwt_issuer: str = "mainplatform"
    jwt_audience: str = "mainplatform-api"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    allowed_origins: tuple[str, ...] = ()
    cookie_secure: bool = True
    access_token_ttl: int = 900
    refresh_idle_ttl: int = 7 * 24 * 3600
    refresh_absolute_ttl: int = 30 * 24 * 3600
    refresh_reuse_grace: int = 5
    rate_limit_login_account: RateLimit = RateLimit(10, 300.0)
    rate_limit_login_device: RateLimit = RateLimit(10, 300.0)
    rate_limit_login_ip: RateLimit = RateLimit(30, 60.0)
    rate_limit_register_ip: RateLimit = RateLimit(10, 3600.0)
    rate_limit_api: RateLimit = RateLimit(600, 60.0)
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    log_level: str = "INFO"
    access_log: bool = True
    max_body_bytes: int = 64 * 1024
    password_min_length: int = 12
    db_pool_min: int = 2
    db_pool_max: int = 10
    hash_concurrency: int = 1
    public_url: str | None = None
    oidc_issuer: str | None = None
    oidc_name: str = "single sign-on"
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = field(default=None, metadata={"secret": True})
    session_secret: str | None = field(default=None, metadata={"secret": True})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        return _load(os.environ if env is None else env)

    def masked(self) -> dict[str, str]:
        """The effective settings as text, secrets replaced by a mask."""
        out: dict[str, str] = {}
        for f in fields(self):
            value: Any = getattr(self, f.name)
            if value is None:
                text = ""
            elif f.metadata.get("secret"):
                text = _mask_url(value) if f.name.endswith("_url") else "********"
            elif isinstance(value, tuple):
                text = ",".join(str(v) for v in value)
            else:
                text = str(value)
            out[f.name.upper()] = text
        return out

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    def session_key(self) -> str:
        """Key of the short-lived OIDC state cookie: SESSION_SECRET or derived from JWT_SECRET."""
        if self.session_secret:
            return self.session_secret
        return hashlib.sha256(b"mainplatform-session:" + self.jwt_secret.encode()).hexdigest()


def _mask_url(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1********@", url)


def read_secret(env: Mapping[str, str], name: str) -> str | None:
    """``NAME``, then ``NAME_FILE``, then ``$CREDENTIALS_DIRECTORY/name``."""
    if env.get(name):
        return env[name]
    path = env.get(f"{name}_FILE")
    if not path:
        creds = env.get("CREDENTIALS_DIRECTORY")
        candidate = Path(creds) / name.lower() if creds else None
        if candidate is None or not candidate.is_file():
            return None
        path = str(candidate)
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{name}_FILE: cannot read {path}: {exc.strerror}") from exc
    return value or None


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}: expected true or false, got {raw!r}")


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in env.get(name, "").split(",") if p.strip())


def _required_secret(env: Mapping[str, str], name: str) -> str:
    value = read_secret(env, name)
    if not value:
        raise ConfigError(
            f"{name} is not set (give {name}, {name}_FILE or a systemd credential '{name.lower()}')"
        )
    return value


def _check_jwt_secret(name: str, value: str) -> None:
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"{name} is too weak: it must be at least {MIN_SECRET_BYTES} bytes "
            f"(try: openssl rand -base64 48)"
        )
    if len(set(value)) < 8:
        raise ConfigError(f"{name} is too weak: it repeats too few distinct characters")


def _load(env: Mapping[str, str]) -> Settings:
    database_url = _required_secret(env, "DATABASE_URL")
    redis_url = _required_secret(env, "REDIS_URL")
    jwt_secret = _required_secret(env, "JWT_SECRET")
    _check_jwt_secret("JWT_SECRET", jwt_secret)
    previous = read_secret(env, "JWT_PREVIOUS_SECRET")
    if previous is not None:
        _check_jwt_secret("JWT_PREVIOUS_SECRET", previous)

    proxies: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for item in _list(env, "TRUSTED_PROXIES"):
        try:
            proxies.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"TRUSTED_PROXIES: {item!r} is not an IP address or CIDR") from None

    origins = _list(env, "ALLOWED_ORIGINS")
    for origin in origins:
        if not re.fullmatch(r"https?://[^/\s]+", origin):
            raise ConfigError(
                f"ALLOWED_ORIGINS: {origin!r} is not an origin like https://example.org"
            )

    log_level = env.get("LOG_LEVEL", "INFO").upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ConfigError(f"LOG_LEVEL: unknown level {log_level!r}")

    def limit(name: str, default: RateLimit) -> RateLimit:
        raw = env.get(name)
        return RateLimit.parse(name, raw) if raw else default

    defaults = Settings(database_url="", redis_url="", jwt_secret="")
    access_ttl = _int(env, "ACCESS_TOKEN_TTL", defaults.access_token_ttl, minimum=30)
    idle_ttl = _int(env, "REFRESH_IDLE_TTL", defaults.refresh_idle_ttl, minimum=60)
    absolute_ttl = _int(env, "REFRESH_ABSOLUTE_TTL", defaults.refresh_absolute_ttl, minimum=60)
    if idle_ttl > absolute_ttl:
        raise ConfigError("REFRESH_IDLE_TTL must not exceed REFRESH_ABSOLUTE_TTL")
    pool_min = _int(env, "DB_POOL_MIN", defaults.db_pool_min, minimum=0)
    pool_max = _int(env, "DB_POOL_MAX", defaults.db_pool_max, minimum=1)
    if pool_min > pool_max:
        raise ConfigError("DB_POOL_MIN must not exceed DB_POOL_MAX")

    oidc_issuer = env.get("OIDC_ISSUER") or None
    oidc_client_id = env.get("OIDC_CLIENT_ID") or None
    oidc_secret = read_secret(env, "OIDC_CLIENT_SECRET")
    if bool(oidc_issuer) != bool(oidc_client_id):
        raise ConfigError("OIDC_ISSUER and OIDC_CLIENT_ID must be set together")

    public_url = env.get("PUBLIC_URL") or None
    if public_url and not re.fullmatch(r"https?://[^/\s]+/?", public_url):
        raise ConfigError(f"PUBLIC_URL: {public_url!r} is not a URL like https://example.org")

    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        jwt_secret=jwt_secret,
        jwt_previous_secret=previous,
        jwt_issuer=env.get("JWT_ISSUER", defaults.jwt_issuer),
        jwt_audience=env.get("JWT_AUDIENCE", defaults.jwt_audience),
        host=env.get("HOST", defaults.host),
        port=_int(env, "PORT", defaults.port, minimum=0),
        workers=_int(env, "WORKERS", defaults.workers, minimum=1),
        allowed_origins=origins,
        cookie_secure=_bool(env, "COOKIE_SECURE", True),
        access_token_ttl=access_ttl,
        refresh_idle_ttl=idle_ttl,
        refresh_absolute_ttl=absolute_ttl,
        refresh_reuse_grace=_int(env, "REFRESH_REUSE_GRACE", defaults.refresh_reuse_grace),
        rate_limit_login_account=limit(
            "RATE_LIMIT_LOGIN_ACCOUNT", defaults.rate_limit_login_account
        ),
        rate_limit_login_device=limit("RATE_LIMIT_LOGIN_DEVICE", defaults.rate_limit_login_device),
        rate_limit_login_ip=limit("RATE_LIMIT_LOGIN_IP", defaults.rate_limit_login_ip),
        rate_limit_register_ip=limit("RATE_LIMIT_REGISTER_IP", defaults.rate_limit_register_ip),
        rate_limit_api=limit("RATE_LIMIT_API", defaults.rate_limit_api),
        trusted_proxies=tuple(proxies),
        log_level=log_level,
        access_log=_bool(env, "ACCESS_LOG", True),
        max_body_bytes=_int(env, "MAX_BODY_BYTES", defaults.max_body_bytes, minimum=1024),
        password_min_length=_int(
            env, "PASSWORD_MIN_LENGTH", defaults.password_min_length, minimum=8
        ),
        db_pool_min=pool_min,
        db_pool_max=pool_max,
        hash_concurrency=_int(env, "HASH_CONCURRENCY", defaults.hash_concurrency, minimum=1),
        public_url=public_url,
        oidc_issuer=oidc_issuer,
        oidc_name=env.get("OIDC_NAME") or defaults.oidc_name,
        oidc_client_id=oidc_client_id,
        oidc_client_secret=oidc_secret,
        session_secret=read_secret(env, "SESSION_SECRET"),
    )
