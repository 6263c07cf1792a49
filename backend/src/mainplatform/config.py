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
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

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


Owner = Literal["operator", "wiring", "secret"]


@dataclass(frozen=True, slots=True)
class Declared:
    """What the one declaration of a setting says besides its name, type and default.

    ``owner`` says who sets it on a NixOS host: ``operator`` settings are typed options of
    the module (``services.mainplatform.backend.settings``); ``wiring`` ones the module
    derives from other facts (addresses, ports, paths); ``secret`` ones are files handed over
    with ``LoadCredential``.
    """

    doc: str
    owner: Owner = "operator"
    minimum: int | None = None
    choices: tuple[str, ...] = ()
    pattern: str | None = None  # every value (each item of a list) must match


def setting(default: Any = MISSING, doc: str = "", **kw: Any) -> Any:
    """A field of ``Settings`` with its declaration."""
    meta = {"declared": Declared(doc, **kw)}
    if default is MISSING:
        return field(metadata=meta)
    if isinstance(default, tuple | list):
        return field(default=tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


ORIGIN = r"https?://[^/\s]+"
SMTP_TLS_MODES = ("STARTTLS", "TLS", "NONE")
MAX_RESET_TTL = 1800  # a reset link is valid for at most 30 minutes
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True, slots=True)
class Settings:
    """Every backend setting, declared once: its environment variable is the field's name in
    upper case; the loader, ``check-config``, the README table and the NixOS module's
    options (through ``nix/lib/backend-settings.json``) all come from these declarations."""

    database_url: str = setting(
        doc="libpq URL, e.g. `postgresql:///mainplatform?host=/run/postgresql`", owner="secret"
    )
    redis_url: str = setting(
        doc="e.g. `unix:///run/redis-mainplatform/redis.sock` or `redis://127.0.0.1:6379/0`",
        owner="secret",
    )
    jwt_secret: str = setting(
        doc="HS256 signing key for access tokens (at least 32 bytes); its `kid` is derived",
        owner="secret",
    )
    jwt_previous_secret: str | None = setting(
        None,
        "the key before a rotation: tokens signed with it stay valid until they expire",
        owner="secret",
    )
    jwt_issuer: str = setting("mainplatform", "`iss` of access tokens")
    jwt_audience: str = setting("mainplatform-api", "`aud` of access tokens")
    host: str = setting("127.0.0.1", "where `serve` listens", owner="wiring")
    port: int = setting(8000, "the port `serve` listens on", owner="wiring", minimum=0)
    workers: int = setting(1, "worker processes of `serve`", owner="wiring", minimum=1)
    allowed_origins: tuple[str, ...] = setting(
        (),
        "comma-separated extra origins for CORS and the CSRF `Origin` check (same-origin is "
        "always allowed)",
        pattern=ORIGIN,
    )
    cookie_secure: bool = setting(
        True, "`Secure` flag on the cookies; `false` only for plain-HTTP local use", owner="wiring"
    )
    access_token_ttl: int = setting(900, "access-token lifetime, seconds", minimum=30)
    refresh_idle_ttl: int = setting(
        7 * 24 * 3600, "refresh-token idle timeout, seconds", minimum=60
    )
    refresh_absolute_ttl: int = setting(
        30 * 24 * 3600, "absolute lifetime of a sign-in (refresh family), seconds", minimum=60
    )
    refresh_reuse_grace: int = setting(
        5,
        "seconds in which presenting the just-rotated refresh token again (a lost response, "
        "parallel tabs) returns the same successor instead of counting as reuse; 0 is off",
        minimum=0,
    )
    rate_limit_login_account: RateLimit = setting(
        RateLimit(10, 300.0),
        "login attempts per account from clients without its device cookie (`N/period`, "
        "period like `30s`, `5m`, `1h`, `minute`)",
    )
    rate_limit_login_device: RateLimit = setting(
        RateLimit(10, 300.0),
        "login attempts per device cookie (a browser that signed in to that account before)",
    )
    rate_limit_login_ip: RateLimit = setting(RateLimit(30, 60.0), "login attempts per client IP")
    rate_limit_register_ip: RateLimit = setting(
        RateLimit(10, 3600.0), "registrations per client IP"
    )
    rate_limit_api: RateLimit = setting(
        RateLimit(600, 60.0), "general budget per user (authenticated) or per IP"
    )
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = setting(
        (),
        "IPs/CIDRs whose `X-Forwarded-For` is believed (e.g. `127.0.0.1` behind Traefik)",
    )
    log_level: str = setting("INFO", "log level", owner="wiring", choices=LOG_LEVELS)
    access_log: bool = setting(True, "one JSON access line per request")
    max_body_bytes: int = setting(64 * 1024, "request bodies above this get 413", minimum=1024)
    password_min_length: int = setting(12, "minimum password length", minimum=8)
    db_pool_min: int = setting(2, "PostgreSQL connections kept open per worker", minimum=0)
    db_pool_max: int = setting(10, "PostgreSQL connections at most per worker", minimum=1)
    read_cache_users: int = setting(
        1024,
        "accounts whose `/users/me` answer each worker keeps, checked against Redis on every"
        " request; 0 turns the cache off",
        minimum=0,
    )
    read_cache_pages: int = setting(
        256,
        "note pages each worker keeps (a large one is not kept), checked against Redis on each"
        " request; 0 turns the cache off",
        minimum=0,
    )
    hash_concurrency: int = setting(
        1,
        "Argon2 hashes at once per worker (a login storm queues instead of starving the loop)",
        minimum=1,
    )
    public_url: str | None = setting(
        None,
        "the public origin, used for the OIDC redirect URI (default: from the request) and "
        "for the links in mails (required when `SMTP_HOST` is set)",
        owner="wiring",
        pattern=ORIGIN + "/?",
    )
    oidc_issuer: str | None = setting(
        None, "OpenID Connect issuer URL (sign-in is enabled when issuer and client id are set)"
    )
    oidc_name: str = setting("single sign-on", "the provider's name on the sign-in page")
    oidc_client_id: str | None = setting(None, "OpenID Connect client id")
    oidc_client_secret: str | None = setting(None, "OpenID Connect client secret", owner="secret")
    session_secret: str | None = setting(
        None,
        "signs the short-lived OIDC state cookie (default: derived from `JWT_SECRET`)",
        owner="secret",
    )

    smtp_host: str | None = setting(
        None, "the SMTP relay's host name; mail is off (nothing is queued) when unset"
    )
    smtp_port: int = setting(
        587, "the SMTP relay's port (587 STARTTLS, 465 implicit TLS)", minimum=1
    )
    smtp_tls: str = setting(
        "STARTTLS",
        "`STARTTLS` (upgrade a plain connection), `TLS` (implicit TLS, port 465) or `NONE` "
        "(plain: a relay on loopback only)",
        choices=SMTP_TLS_MODES,
    )
    smtp_username: str | None = setting(None, "user name for SMTP AUTH (none: no AUTH)")
    smtp_password: str | None = setting(None, "password for SMTP AUTH", owner="secret")
    smtp_ca_file: str | None = setting(
        None, "PEM file of the CAs that sign the relay's certificate (default: the system's)"
    )
    smtp_timeout: int = setting(10, "seconds for each SMTP connection step", minimum=1)
    mail_from: str = setting(
        "Main Platform <noreply@localhost>", "`From` of every mail (an address the relay accepts)"
    )
    mail_reply_to: str | None = setting(None, "`Reply-To` of every mail (none: no header)")
    mail_outbox_max: int = setting(
        10000,
        "mails waiting at most in the outbox; past it new mails are dropped and counted",
        minimum=10,
    )
    mail_max_attempts: int = setting(
        8, "delivery attempts per mail before it is given up and counted", minimum=1
    )
    mail_retry_base: int = setting(
        30, "seconds before the first retry; each further retry waits twice as long", minimum=1
    )
    email_verification_required: bool = setting(
        False, "password sign-in needs a verified e-mail address (the link sent on sign-up)"
    )
    email_verify_ttl: int = setting(
        24 * 3600, "lifetime of an e-mail verification link, seconds", minimum=300
    )
    password_reset_ttl: int = setting(
        1800,
        f"lifetime of a password-reset link, seconds (at most {MAX_RESET_TTL})",
        minimum=300,
    )
    rate_limit_mail_address: RateLimit = setting(
        RateLimit(3, 3600.0), "reset and verification mails asked for per address"
    )
    rate_limit_mail_ip: RateLimit = setting(
        RateLimit(10, 3600.0), "reset and verification mails asked for per client IP"
    )
    notify_new_device: bool = setting(
        True, "mail a notice when an account signs in from a browser it never used before"
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        return _load(os.environ if env is None else env)

    @classmethod
    def default(cls, name: str) -> Any:
        """The declared default of one setting (for code that must not repeat it)."""
        value = setting_field(name).default
        if value is MISSING:
            raise KeyError(f"{name} has no default")
        return value

    def masked(self) -> dict[str, str]:
        """The effective settings as text, secrets replaced by a mask."""
        out: dict[str, str] = {}
        for f in fields(self):
            value: Any = getattr(self, f.name)
            if value is None:
                text = ""
            elif declared(f).owner == "secret":
                text = _mask_url(value) if f.name.endswith("_url") else "********"
            else:
                text = _text(value)
            out[f.name.upper()] = text
        return out

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    @property
    def mail_enabled(self) -> bool:
        return bool(self.smtp_host)

    def session_key(self) -> str:
        """Key of the short-lived OIDC state cookie: SESSION_SECRET or derived from JWT_SECRET."""
        if self.session_secret:
            return self.session_secret
        return hashlib.sha256(b"mainplatform-session:" + self.jwt_secret.encode()).hexdigest()


def setting_field(name: str) -> Field[Any]:
    """The dataclass field of one setting, by its field name."""
    return next(f for f in fields(Settings) if f.name == name)


def declared(f: Field[Any]) -> Declared:
    d: Declared = f.metadata["declared"]
    return d


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


# The kind of each declared type: how it is read from text, and how Nix and the README show it.
KINDS = {
    "str": "string",
    "str | None": "string",
    "int": "int",
    "bool": "bool",
    "RateLimit": "rateLimit",
    "tuple[str, ...]": "list",
    "tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]": "networks",
}


def describe() -> list[dict[str, Any]]:
    """Every declaration as JSON-ready data (``mainplatform settings --json``)."""
    out = []
    for f in fields(Settings):
        d = declared(f)
        default = None if f.default is MISSING else f.default
        out.append(
            {
                "env": f.name.upper(),
                "kind": KINDS[str(f.type)],
                "default": None if default is None else _json_default(default),
                "required": f.default is MISSING,
                "owner": d.owner,
                "doc": d.doc,
                "minimum": d.minimum,
                "choices": list(d.choices) or None,
                "pattern": d.pattern,
            }
        )
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, RateLimit):
        return str(value)
    if isinstance(value, tuple):
        return [str(v) for v in value]
    return value


def markdown_table() -> str:
    """The README's table of settings."""
    rows = ["| variable | default | |", "|---|---|---|"]
    for item in describe():
        name = f"`{item['env']}`" + (" 🔒" if item["owner"] == "secret" else "")
        if item["required"]:
            default = "— (required)"
        elif item["default"] in (None, [], ""):
            default = "none"
        else:
            value = item["default"]
            default = f"`{_text(tuple(value) if isinstance(value, list) else value)}`"
        rows.append(f"| {name} | {default} | {item['doc']} |")
    return "\n".join(rows) + "\n"


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


def _parse(f: Field[Any], env: Mapping[str, str]) -> Any:
    """One setting from the environment (secrets also from a file or a credential)."""
    name, d = f.name.upper(), declared(f)
    raw = read_secret(env, name) if d.owner == "secret" else (env.get(name) or None)
    if raw is None:
        if f.default is MISSING:
            raise ConfigError(
                f"{name} is not set (give {name}, {name}_FILE or a systemd credential "
                f"'{name.lower()}')"
            )
        return f.default
    kind = KINDS[str(f.type)]
    value: Any
    if kind == "int":
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
        if d.minimum is not None and value < d.minimum:
            raise ConfigError(f"{name}: must be at least {d.minimum}, got {value}")
    elif kind == "bool":
        lowered = raw.strip().lower()
        if lowered not in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
            raise ConfigError(f"{name}: expected true or false, got {raw!r}")
        value = lowered in {"1", "true", "yes", "on"}
    elif kind == "rateLimit":
        value = RateLimit.parse(name, raw)
    elif kind == "list":
        value = tuple(p.strip() for p in raw.split(",") if p.strip())
    elif kind == "networks":
        items = [p.strip() for p in raw.split(",") if p.strip()]
        try:
            value = tuple(ipaddress.ip_network(item, strict=False) for item in items)
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc.args[0]} (give IP addresses or CIDRs)") from None
    else:
        value = raw.upper() if d.choices else raw
    if d.choices and value not in d.choices:
        raise ConfigError(f"{name}: unknown value {raw!r} (one of {', '.join(d.choices)})")
    if d.pattern is not None:
        for item in value if isinstance(value, tuple) else (value,):
            if not re.fullmatch(d.pattern, item):
                raise ConfigError(f"{name}: {item!r} is not like https://example.org")
    return value


def read_setting(name: str, env: Mapping[str, str]) -> Any:
    """One setting, read and checked as ``Settings.from_env`` does (for the CLI's helpers)."""
    return _parse(setting_field(name), env)


def _check_jwt_secret(name: str, value: str) -> None:
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"{name} is too weak: it must be at least {MIN_SECRET_BYTES} bytes "
            f"(try: openssl rand -base64 48)"
        )
    if len(set(value)) < 8:
        raise ConfigError(f"{name} is too weak: it repeats too few distinct characters")


def _load(env: Mapping[str, str]) -> Settings:
    values = {f.name: _parse(f, env) for f in fields(Settings)}
    settings = Settings(**values)
    _check_jwt_secret("JWT_SECRET", settings.jwt_secret)
    if settings.jwt_previous_secret is not None:
        _check_jwt_secret("JWT_PREVIOUS_SECRET", settings.jwt_previous_secret)
    if settings.refresh_idle_ttl > settings.refresh_absolute_ttl:
        raise ConfigError("REFRESH_IDLE_TTL must not exceed REFRESH_ABSOLUTE_TTL")
    if settings.db_pool_min > settings.db_pool_max:
        raise ConfigError("DB_POOL_MIN must not exceed DB_POOL_MAX")
    if bool(settings.oidc_issuer) != bool(settings.oidc_client_id):
        raise ConfigError("OIDC_ISSUER and OIDC_CLIENT_ID must be set together")
    if settings.password_reset_ttl > MAX_RESET_TTL:
        raise ConfigError(f"PASSWORD_RESET_TTL must not exceed {MAX_RESET_TTL} seconds")
    if settings.smtp_host and not settings.public_url:
        raise ConfigError("PUBLIC_URL must be set when SMTP_HOST is: mails link to it")
    if settings.email_verification_required and not settings.smtp_host:
        raise ConfigError(
            "EMAIL_VERIFICATION_REQUIRED needs SMTP_HOST: nobody could verify an address"
        )
    if bool(settings.smtp_username) != bool(settings.smtp_password):
        raise ConfigError("SMTP_USERNAME and SMTP_PASSWORD must be set together")
    if (
        settings.smtp_tls == "NONE"
        and settings.smtp_username
        and settings.smtp_host not in LOOPBACK_HOSTS
    ):
        raise ConfigError(
            "SMTP_TLS=NONE with SMTP_USERNAME would send the password in clear to "
            f"{settings.smtp_host}; use STARTTLS or TLS (NONE is for a relay on loopback)"
        )
    return settings
