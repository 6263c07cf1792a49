"""Access tokens (JWT, HS256, made and checked with joserfc) and opaque refresh tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from joserfc.jwt import JWTClaimsRegistry

ALGORITHM = "HS256"
ACCESS_TYP = "at+jwt"  # RFC 9068
REFRESH_BYTES = 32  # 256 bits
MAX_TOKEN_CHARS = 4096
VERIFIED_CACHE_SIZE = 4096


class InvalidToken(Exception):
    """The token is malformed, forged, expired or otherwise unacceptable."""


def key_id(secret: str) -> str:
    """A stable, non-secret id derived from the key, so rotation needs no extra setting."""
    digest = hashlib.sha256(b"mainplatform-kid:" + secret.encode()).digest()
    return base64.urlsafe_b64encode(digest[:9]).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    jti: str
    sid: str
    issued_at: int
    expires_at: int
    not_before: int = 0


class AccessTokens:
    """Issue with the current key; accept the current and the previous key, chosen by ``kid``."""

    def __init__(
        self,
        secret: str,
        *,
        previous_secret: str | None,
        issuer: str,
        audience: str,
        ttl: int,
        leeway: int = 5,
    ) -> None:
        self.kid = key_id(secret)
        self._key = OctKey.import_key(secret.encode(), {"kid": self.kid, "alg": ALGORITHM})
        keys = [self._key]
        if previous_secret:
            old_kid = key_id(previous_secret)
            keys.append(
                OctKey.import_key(previous_secret.encode(), {"kid": old_kid, "alg": ALGORITHM})
            )
        self._keys = {k.kid: k for k in keys}
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl
        self._leeway = leeway
        self._header = {"alg": ALGORITHM, "typ": ACCESS_TYP, "kid": self.kid}
        # Verified tokens, so a token's signature and claims are checked once per worker, not
        # once per request. Times are still checked on every use; revocation is Redis's job.
        self._verified: dict[str, AccessClaims] = {}

    def issue(self, user_id: int, sid: str, *, now: int | None = None) -> tuple[str, AccessClaims]:
        issued = int(time.time()) if now is None else now
        claims = AccessClaims(
            user_id=user_id,
            jti=uuid.uuid4().hex,
            sid=sid,
            issued_at=issued,
            expires_at=issued + self.ttl,
            not_before=issued,
        )
        payload = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(user_id),
            "iat": issued,
            "nbf": issued,
            "exp": claims.expires_at,
            "jti": claims.jti,
            "sid": sid,
        }
        return jwt.encode(self._header, payload, self._key, algorithms=[ALGORITHM]), claims

    def verify(self, token: str, *, now: int | None = None) -> AccessClaims:
        current = int(time.time()) if now is None else now
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify(token, current)
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = claims
        if claims.expires_at < current - self._leeway:
            raise InvalidToken("expired")
        if claims.not_before > current + self._leeway:
            raise InvalidToken("not yet valid")
        return claims

    def _verify(self, token: str, now: int) -> AccessClaims:
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken("token too long")
        try:
            decoded = jwt.decode(token, self._select_key, algorithms=[ALGORITHM])
            header = decoded.header
            if header.get("typ") != ACCESS_TYP:
                raise InvalidToken("wrong token type")
            registry = JWTClaimsRegistry(
                now=now,
                leeway=self._leeway,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.audience},
                sub={"essential": True},
                iat={"essential": True},
                nbf={"essential": True},
                exp={"essential": True},
                jti={"essential": True},
                sid={"essential": True},
            )
            registry.validate(decoded.claims)
            claims: dict[str, Any] = decoded.claims
            return AccessClaims(
                user_id=_positive_int(claims["sub"]),
                jti=_short_str(claims["jti"]),
                sid=_short_str(claims["sid"]),
                issued_at=_int_claim(claims["iat"]),
                expires_at=_int_claim(claims["exp"]),
                not_before=_int_claim(claims["nbf"]),
            )
        except InvalidToken:
            raise
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise InvalidToken(type(exc).__name__) from None

    def _select_key(self, guest: Any) -> OctKey:
        kid = guest.headers().get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidToken("unknown key id")
        return key


def _positive_int(value: Any) -> int:
    if not isinstance(value, str) or not value.isdigit() or len(value) > 18:
        raise InvalidToken("bad subject")
    return int(value)


def _short_str(value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        raise InvalidToken("bad claim")
    return value


def _int_claim(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken("bad time claim")
    return int(value)


def new_refresh_token() -> str:
    return secrets.token_urlsafe(REFRESH_BYTES)


def successor_key(secret: str) -> bytes:
    """The key that derives a refresh token's successor (see ``successor_token``)."""
    return hashlib.sha256(b"mainplatform-refresh-successor:" + secret.encode()).digest()


def successor_token(key: bytes, token: str) -> str:
    """The token that rotating ``token`` yields: derived, so that presenting ``token`` again
    within the reuse grace window returns the same successor, while only hashes are stored.
    Without the server's key nobody can compute it from ``token``."""
    digest = hmac.digest(key, token.encode(), "sha256")
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def hash_token(token: str) -> bytes:
    """What is stored of an opaque token (refresh, reset, verification): its SHA-256."""
    return hashlib.sha256(token.encode("utf-8", "replace")).digest()


def hash_refresh_token(token: str) -> bytes:
    return hash_token(token)


ACCOUNT_TOKEN_BYTES = 32  # 256 bits, like a refresh token


def new_account_token() -> str:
    """A password-reset or e-mail verification token (43 URL-safe characters)."""
    return secrets.token_urlsafe(ACCOUNT_TOKEN_BYTES)
