"""Access tokens: every kind of tampering is a 401; keys rotate by ``kid``."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey
from starlette.testclient import TestClient

from mainplatform.config import Settings
from mainplatform.security.tokens import AccessTokens, InvalidToken, key_id
from tests.conftest import ClientFactory
from tests.support import User


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def forge(
    settings: Settings,
    *,
    secret: str | None = None,
    header: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    secret = secret or settings.jwt_secret
    now = int(time.time())
    payload = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": "1",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "f" * 32,
        "sid": "00000000-0000-0000-0000-000000000001",
    }
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    hdr = {"alg": "HS256", "typ": "at+jwt", "kid": key_id(secret)}
    hdr.update(header or {})
    hdr = {k: v for k, v in hdr.items() if v is not None}
    key = OctKey.import_key(secret.encode())
    return jwt.encode(hdr, payload, key, algorithms=["HS256"])


def test_a_forged_token_with_the_right_key_is_accepted(
    client: TestClient, user: User, settings: Settings
) -> None:
    """The forge helper itself is right, so the failures below are caused by the tampering."""
    token = forge(settings, sub=str(user.id), sid=user_sid(user, settings))
    assert (
        client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )


def user_sid(user: User, settings: Settings) -> str:
    tokens = AccessTokens(
        settings.jwt_secret,
        previous_secret=None,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=900,
    )
    return tokens.verify(user.token).sid


TAMPERED = {
    "wrong key": dict(secret="another secret that is long enough to be valid!!"),
    "wrong kid": dict(header={"kid": "not-a-known-kid"}),
    "no kid": dict(header={"kid": None}),
    "wrong aud": dict(aud="someone-else"),
    "wrong iss": dict(iss="https://evil.example"),
    "wrong typ": dict(header={"typ": "JWT"}),
    "expired": dict(
        exp=int(time.time()) - 3600, iat=int(time.time()) - 7200, nbf=int(time.time()) - 7200
    ),
    "not yet valid": dict(nbf=int(time.time()) + 3600),
    "no exp": dict(exp=None),
    "no jti": dict(jti=None),
    "no sub": dict(sub=None),
    "non-numeric sub": dict(sub="admin"),
    "string exp": dict(exp="tomorrow"),
}


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_tampered_tokens_are_401(
    client: TestClient, user: User, settings: Settings, case: str
) -> None:
    kwargs: dict[str, Any] = dict(TAMPERED[case])
    header = kwargs.pop("header", None)
    token = forge(settings, header=header, **{"sub": str(user.id), **kwargs})
    r = client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401, (case, r.text)
    assert r.json()["error"]["code"] == "invalid_token"


def test_alg_none_is_401(client: TestClient, user: User, settings: Settings) -> None:
    valid = user.token.split(".")
    header = {"alg": "none", "typ": "at+jwt", "kid": key_id(settings.jwt_secret)}
    for token in (f"{_b64(header)}.{valid[1]}.", f"{_b64(header)}.{valid[1]}.{valid[2]}"):
        assert (
            client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"}).status_code
            == 401
        )


def test_modified_payload_is_401(client: TestClient, user: User) -> None:
    head, body, sig = user.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["sub"] = "2"
    token = f"{head}.{_b64(claims)}.{sig}"
    assert (
        client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "bearer a.b.c",
        "Bearer " + "a" * 5000,
        "Bearer ☃.☃.☃",
        "Token x",
    ],
)
def test_malformed_authorization_headers(client: TestClient, header: str) -> None:
    r = client.get("/api/notes", headers={"Authorization": header.encode()})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


def test_previous_key_still_verifies_after_rotation(
    make_client: ClientFactory, settings: Settings
) -> None:
    old = make_client()
    alice = User(old, "rot@example.org")
    new_secret = "a brand new signing secret, at least 32 bytes long"
    rotated = make_client(jwt_secret=new_secret, jwt_previous_secret=settings.jwt_secret)
    assert rotated.get("/api/users/me", headers=alice.headers).status_code == 200
    # tokens issued after rotation carry the new kid
    r = rotated.post("/api/auth/login", json={"email": alice.email, "password": alice.password})
    head = json.loads(base64.urlsafe_b64decode(r.json()["access_token"].split(".")[0] + "=="))
    assert head["kid"] == key_id(new_secret)
    # once the old key is dropped, old tokens stop working
    dropped = make_client(jwt_secret=new_secret)
    assert dropped.get("/api/users/me", headers=alice.headers).status_code == 401


def test_verify_rejects_oversized_token() -> None:
    tokens = AccessTokens(
        "s" * 16 + "t" * 16 + "0123456789", previous_secret=None, issuer="i", audience="a", ttl=60
    )
    with pytest.raises(InvalidToken):
        tokens.verify("a" * 5000)


ACCEPTED_ON_PURPOSE = {  # README, "Accepted on purpose": each is a decision, kept by this test
    "aud as a list containing ours": (dict(aud=["other-api", "{aud}"]), 200),
    "aud as a list without ours": (dict(aud=["other-api", "more"]), 401),
    "expired 3 s ago (inside the 5 s leeway)": (dict(exp=-3), 200),
    "expired 8 s ago": (dict(exp=-8), 401),
    "valid 3 s from now (inside the leeway)": (dict(nbf=3), 200),
    "valid 8 s from now": (dict(nbf=8), 401),
}


@pytest.mark.parametrize("case", sorted(ACCEPTED_ON_PURPOSE))
def test_documented_tolerances(
    client: TestClient, user: User, settings: Settings, case: str
) -> None:
    claims, status = ACCEPTED_ON_PURPOSE[case]
    now = int(time.time())
    values: dict[str, Any] = {"sub": str(user.id), "sid": user_sid(user, settings)}
    for name, value in claims.items():
        if name == "aud":
            values["aud"] = [a.format(aud=settings.jwt_audience) for a in value]
        else:
            values[name] = now + value
            if name == "exp":
                values["iat"] = values["nbf"] = now - 60
    token = forge(settings, **values)
    r = client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == status, (case, r.text)
