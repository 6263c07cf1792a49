"""The security headers a browser receives, read from their one owner each.

- the app's pages: nginx, frontend/nginx/server.conf (every location repeats the same set);
- /api: the backend, mainplatform.middleware.SECURITY_HEADERS;
- the TLS edge: Traefik's security-headers middleware from nix/lib (HSTS, banners removed).

Tests compare what real servers send with these, so a value lives in one file only.
"""

from __future__ import annotations

import re

from mainplatform.middleware import SECURITY_HEADERS
from tests.support.layout import FRONTEND_FRAGMENT

_ADD_HEADER = re.compile(r'^\s*add_header\s+(\S+)\s+"([^"]*)"\s+always;', re.M)
_LOCATION = re.compile(r"^location\s+([^{]+?)\s*\{(.*?)^\}", re.M | re.S)

# Headers about caching, not security: each location sets its own on purpose.
NOT_SECURITY = {"cache-control"}


def frontend_headers_by_location() -> dict[str, dict[str, str]]:
    """Each location of the fragment -> its add_header set (names lower-cased)."""
    text = FRONTEND_FRAGMENT.read_text(encoding="utf-8")
    return {
        loc: {name.lower(): value for name, value in _ADD_HEADER.findall(body)}
        for loc, body in _LOCATION.findall(text)
    }


def frontend_headers() -> dict[str, str]:
    """The security headers of the app's pages (the same in every location; asserted)."""
    sets = [
        {k: v for k, v in h.items() if k not in NOT_SECURITY}
        for h in frontend_headers_by_location().values()
    ]
    if not sets or any(s != sets[0] for s in sets):
        raise AssertionError(f"the locations of {FRONTEND_FRAGMENT} disagree: {sets}")
    return sets[0]


def api_headers() -> dict[str, str]:
    """The security headers of every /api response."""
    return {name.decode(): value.decode() for name, value in SECURITY_HEADERS}


# Traefik headers-middleware keys and the response header each one sets.
TRAEFIK_HEADER_KEYS = {
    "contentTypeNosniff": "x-content-type-options",
    "frameDeny": "x-frame-options",
    "customFrameOptionsValue": "x-frame-options",
    "referrerPolicy": "referrer-policy",
    "contentSecurityPolicy": "content-security-policy",
    "permissionsPolicy": "permissions-policy",
    "browserXssFilter": "x-xss-protection",
    "stsSeconds": "strict-transport-security",
}


def traefik_header_names(middleware: dict[str, object]) -> set[str]:
    """Response header names a Traefik `headers` middleware sets (or removes)."""
    names = {TRAEFIK_HEADER_KEYS[k] for k in middleware if k in TRAEFIK_HEADER_KEYS}
    custom = middleware.get("customResponseHeaders", {})
    assert isinstance(custom, dict)
    return names | {str(k).lower() for k in custom}
