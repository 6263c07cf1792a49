"""Where things are in this repository. The layout is fixed: the frontend is served from
frontend/public with the fragment frontend/nginx/server.conf (nix/packages/frontend.nix
says the same), nix/lib is the Nix library, modules/ the NixOS module."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NIX_LIB = ROOT / "nix" / "lib"
MODULES = ROOT / "modules"
FRONTEND = ROOT / "frontend"
WEB_ROOT = FRONTEND / "public"
FRONTEND_FRAGMENT = FRONTEND / "nginx" / "server.conf"
# The types the frontend serves, for an nginx without its own mime.types.
FRONTEND_MIME_TYPES = FRONTEND / "nginx" / "mime.types"
