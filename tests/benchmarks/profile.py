"""Where a worker's time goes, from py-spy's collapsed stacks (`py-spy record --format raw`).

Each sample is attributed to the category of its innermost Python frame (native frames are
not sampled, so time in a C extension counts for the Python function that called it: a
psycopg C call counts as "PostgreSQL driver + pool"). The categories are those of the
performance issue's table.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

# (category, pattern on the innermost frame's "function (file:line)"), first match wins.
CATEGORIES: list[tuple[str, str]] = [
    ("HTTP parsing + uvicorn protocol", r"uvicorn/protocols|httptools|h11"),
    ("event loop (uvloop/asyncio)", r"uvloop|asyncio/|selectors"),
    ("access log", r"mainplatform/logs\.py|/logging/"),
    ("metrics (prometheus-client)", r"prometheus_client/|mainplatform/metrics\.py"),
    ("our middleware", r"mainplatform/middleware\.py"),
    ("token checks (JWT)", r"joserfc|mainplatform/security/tokens\.py|/hmac\.py|/base64\.py"),
    ("Redis client", r"/redis/|mainplatform/cache\.py"),
    ("PostgreSQL driver + pool", r"psycopg|mainplatform/db\.py"),
    ("JSON (msgspec)", r"msgspec|mainplatform/schemas\.py"),
    ("Starlette (routing, request, response)", r"starlette/"),
    ("our operations, services", r"mainplatform/"),
]
_COMPILED = [(name, re.compile(pattern)) for name, pattern in CATEGORIES]
_LINE = re.compile(r"^(.*) (\d+)$")


def category(frame: str) -> str:
    for name, pattern in _COMPILED:
        if pattern.search(frame):
            return name
    return "other"


def load(path: Path) -> Counter[str]:
    """Samples per category."""
    counts: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        stack, n = m.group(1), int(m.group(2))
        frames = [f for f in stack.split(";") if "(" in f and not f.startswith("thread ")]
        counts[category(frames[-1]) if frames else "other"] += n
    return counts


def table(counts: Counter[str], cpu_ms: float | None = None) -> str:
    """Share of the samples per category; with the endpoint's backend CPU time per request,
    also the microseconds per request that share stands for."""
    total = sum(counts.values()) or 1
    rows = [f"  {'category':<40} {'samples':>8} {'share':>6}" + ("  µs/request" if cpu_ms else "")]
    for name, n in counts.most_common():
        row = f"  {name:<40} {n:>8} {n / total:>6.1%}"
        if cpu_ms is not None:
            row += f"  {n / total * cpu_ms * 1000:>10.0f}"
        rows.append(row)
    return "\n".join(rows)
