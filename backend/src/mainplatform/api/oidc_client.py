"""authlib's OpenID Connect client, imported only when OIDC is configured: authlib, httpx2
and their imports cost every worker about 10 MiB that a password-only deployment never uses
(``platform.build`` and the ``/api/auth/oidc`` handlers import this module on demand)."""

from __future__ import annotations

import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.integrations.starlette_client import OAuth
from joserfc.errors import JoseError

from mainplatform.config import Settings

# What a misbehaving or unreachable provider (or a forged callback) can raise in authlib.
PROVIDER_ERRORS = (
    OAuthError,
    httpx2.HTTPError,
    JoseError,
    OSError,
    ValueError,
    KeyError,
    TypeError,
)


def make_client(settings: Settings) -> OAuth:
    oauth = OAuth()
    assert settings.oidc_issuer is not None
    oauth.register(
        name="provider",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
    )
    return oauth
