"""Finding the external programs the runtime calls (``pg_dump`` for backups)."""

from __future__ import annotations

import glob
import shutil


class ProgramNotFound(RuntimeError):
    """A program is not installed; the message says which and how to get it."""


def find_program(name: str) -> str:
    """On PATH, else in Debian's versioned PostgreSQL directory (newest first)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
        reverse=True,
    )
    if candidates:
        return candidates[0]
    raise ProgramNotFound(
        f"'{name}' was not found on PATH; install it (e.g. apt install postgresql)"
    )
