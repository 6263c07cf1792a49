"""Settings from the environment: secrets from NAME, NAME_FILE or systemd credentials."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from mainplatform.config import ConfigError, RateLimit, Settings

SECRET = "0123456789abcdefghijklmnopqrstuvwxyz"
BASE = {"DATABASE_URL": "postgresql:///db", "REDIS_URL": "redis://localhost", "JWT_SECRET": SECRET}


def test_defaults() -> None:
    s = Settings.from_env(BASE)
    assert s.cookie_secure is True
    assert s.access_token_ttl == 900
    assert s.host == "127.0.0.1" and s.port == 8000
    assert s.password_min_length == 12


def test_secret_from_file(tmp_path: Path) -> None:
    f = tmp_path / "jwt"
    f.write_text(SECRET + "\n")
    s = Settings.from_env({**BASE, "JWT_SECRET": "", "JWT_SECRET_FILE": str(f)})
    assert s.jwt_secret == SECRET


def test_secret_from_systemd_credentials(tmp_path: Path) -> None:
    (tmp_path / "jwt_secret").write_text(SECRET)
    (tmp_path / "database_url").write_text("postgresql:///fromcred")
    env = {"REDIS_URL": "redis://x", "CREDENTIALS_DIRECTORY": str(tmp_path)}
    s = Settings.from_env(env)
    assert s.jwt_secret == SECRET and s.database_url == "postgresql:///fromcred"


def test_unreadable_secret_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="JWT_SECRET_FILE"):
        Settings.from_env({**BASE, "JWT_SECRET": "", "JWT_SECRET_FILE": str(tmp_path / "missing")})


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"JWT_SECRET": "x" * 40}, "JWT_SECRET is too weak"),
        ({"JWT_PREVIOUS_SECRET": "short"}, "JWT_PREVIOUS_SECRET"),
        ({"PORT": "eighty"}, "PORT"),
        ({"COOKIE_SECURE": "maybe"}, "COOKIE_SECURE"),
        ({"TRUSTED_PROXIES": "10.0.0.0/8,nonsense"}, "TRUSTED_PROXIES"),
        ({"ALLOWED_ORIGINS": "example.org"}, "ALLOWED_ORIGINS"),
        ({"RATE_LIMIT_API": "lots"}, "RATE_LIMIT_API"),
        ({"RATE_LIMIT_API": "5/fortnight"}, "RATE_LIMIT_API"),
        ({"REFRESH_IDLE_TTL": "999999999"}, "REFRESH_IDLE_TTL"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"OIDC_ISSUER": "https://id.example"}, "OIDC_CLIENT_ID"),
    ],
)
def test_invalid_values_name_the_variable(extra: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        Settings.from_env({**BASE, **extra})


def test_parsed_values() -> None:
    s = Settings.from_env(
        {
            **BASE,
            "COOKIE_SECURE": "false",
            "TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8",
            "ALLOWED_ORIGINS": "https://a.example,https://b.example",
            "RATE_LIMIT_LOGIN_IP": "5/30s",
        }
    )
    assert s.cookie_secure is False
    assert s.trusted_proxies == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("10.0.0.0/8"),
    )
    assert s.allowed_origins == ("https://a.example", "https://b.example")
    assert s.rate_limit_login_ip == RateLimit(5, 30.0)


def test_masked_never_shows_secrets() -> None:
    s = Settings.from_env({**BASE, "DATABASE_URL": "postgresql://u:pw-secret@h/d"})
    text = repr(s.masked())
    assert SECRET not in text and "pw-secret" not in text
