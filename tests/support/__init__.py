"""What the tests share (fixtures live in the conftest.py files), by concern:

- layout      where things are in the repository (ROOT, NIX_LIB, WEB_ROOT, ...)
- programs    finding the programs the tests run: find_program, require_program (skips)
- processes   free ports, a child process for a `with` block, bounded waits, log tails
- services    throwaway PostgreSQL and Redis, the app's settings, a real backend process
- users       a signed-in User, make_admin, STRONG_PASSWORD, the API over HTTP
- headers     the security headers, read from their one owner each
- nix         nix-instantiate evaluation, nix/lib's functions, modules/lib.nix
- web         THE nginx and THE Traefik the tests start, and plain HTTP GET
- prometheus  a throwaway Prometheus and a PromQL client
- browser     Chromium's options and the watcher of every page's console and requests

The names many tests use are importable from here too (`from tests.support import User`).
"""

from __future__ import annotations

from tests.support.layout import ROOT
from tests.support.processes import (
    free_port,
    free_ports,
    mainplatform,
    running,
    stop_process,
    tail,
    wait_http,
    wait_until,
)
from tests.support.programs import find_program, require_program
from tests.support.services import (
    Services,
    backend_env,
    make_settings,
    start_backend,
    start_services,
    throwaway_services,
)
from tests.support.users import STRONG_PASSWORD, User, make_admin

__all__ = [
    "ROOT",
    "STRONG_PASSWORD",
    "Services",
    "User",
    "backend_env",
    "find_program",
    "free_port",
    "free_ports",
    "mainplatform",
    "make_admin",
    "make_settings",
    "require_program",
    "running",
    "start_backend",
    "start_services",
    "stop_process",
    "tail",
    "throwaway_services",
    "wait_http",
    "wait_until",
]
