"""The composition root: every service of one process, built once from the settings."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from mainplatform import schemas
from mainplatform.cache import Cache
from mainplatform.config import Settings
from mainplatform.db import Database
from mainplatform.metrics import Metrics
from mainplatform.readcache import ReadCache
from mainplatform.security.passwords import PasswordHasher
from mainplatform.security.tokens import AccessTokens
from mainplatform.services.accounts import Accounts
from mainplatform.services.limits import Limits
from mainplatform.services.mail import Mail
from mainplatform.services.notes import NotesService, PageKey
from mainplatform.services.oidc import OIDCAccounts
from mainplatform.services.sessions import Sessions
from mainplatform.services.users import UsersService


@dataclass
class Platform:
    """Everything a request may need, built once per process by ``build``."""

    settings: Settings
    db: Database
    cache: Cache
    tokens: AccessTokens
    metrics: Metrics
    limits: Limits
    mail: Mail
    sessions: Sessions
    accounts: Accounts
    users: UsersService
    notes: NotesService
    started: float = field(default_factory=time.time)
    oauth: Any = None  # authlib's OAuth registry when OIDC is configured
    oidc: OIDCAccounts | None = None


def build(settings: Settings, metrics: Metrics) -> Platform:
    db = Database(
        settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
    )
    client = aioredis.Redis.from_url(
        settings.redis_url,
        socket_timeout=1.0,
        socket_connect_timeout=1.0,
        health_check_interval=30,
        retry_on_timeout=False,
        # One immediate retry (a pooled connection that a Redis restart broke), no backoff:
        # redis-py's default (10 retries, exponential backoff) held requests for seconds
        # while Redis was down instead of answering 503 at once.
        retry=Retry(NoBackoff(), 1),
    )
    # Without a ReadCache (both READ_CACHE_ settings 0) no worker reads data versions: writes
    # skip them.
    cache = Cache(client, versions=settings.read_cache_users + settings.read_cache_pages > 0)
    reads: ReadCache[int, schemas.User] = ReadCache(settings.read_cache_users)
    pages: ReadCache[PageKey, schemas.NotePageRaw] = ReadCache(settings.read_cache_pages)
    tokens = AccessTokens(
        settings.jwt_secret,
        previous_secret=settings.jwt_previous_secret,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=settings.access_token_ttl,
    )
    limits = Limits(settings, cache, metrics)
    mail = Mail(settings, db, metrics)
    sessions = Sessions(settings, db, cache, tokens, limits, metrics, mail)
    hasher = PasswordHasher(settings.hash_concurrency)
    accounts = Accounts(settings, db, hasher, sessions, limits, metrics, mail)
    platform = Platform(
        settings=settings,
        db=db,
        cache=cache,
        tokens=tokens,
        metrics=metrics,
        limits=limits,
        mail=mail,
        sessions=sessions,
        accounts=accounts,
        users=UsersService(db, accounts, sessions, mail, reads),
        notes=NotesService(db, pages),
    )
    if settings.oidc_enabled:
        assert settings.oidc_issuer is not None
        from mainplatform.api.oidc_client import make_client  # authlib, only when OIDC is on

        platform.oauth = make_client(settings)
        platform.oidc = OIDCAccounts(db, cache, settings.oidc_issuer)
    return platform
