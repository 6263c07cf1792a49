"""Memory that stays: a worker gives Argon2's 19 MiB per hash back to the kernel
(``server.return_large_blocks``). The figures themselves (PSS) are the benchmark's:
``python -m tests.benchmarks.backend``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx2 as httpx

from tests.support import STRONG_PASSWORD, Services, stop_process
from tests.support.processes import worker_pids
from tests.support.services import backend_env, start_backend
from tests.support.users import api_register

# Hashes in a thread, as the server makes them (anyio's thread pool), after the dummy hash
# every PasswordHasher makes; prints how many MiB the process kept.
HASHES = """
import sys
import anyio
from mainplatform import server
from mainplatform.security.passwords import PasswordHasher
if sys.argv[1] == "fixed":
    server.return_large_blocks()
def rss():
    status = open("/proc/self/status").read()
    return int(status.split("VmRSS:")[1].split()[0]) // 1024
hasher = PasswordHasher()
before = rss()
for _ in range(3):
    anyio.run(hasher.hash, "x" * 12)
print(rss() - before)
"""


def kept_mib(mode: str) -> int:
    r = subprocess.run(
        [sys.executable, "-c", HASHES, mode], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    return int(r.stdout)


def test_hashing_keeps_no_memory_with_the_fixed_threshold() -> None:
    assert kept_mib("dynamic") >= 15  # glibc's own behaviour: the block stays
    assert kept_mib("fixed") < 4


def rss_mib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) // 1024


def test_workers_keep_no_hash_memory_after_logins(services: Services) -> None:
    """`mainplatform serve` sets it: ten sign-ins on fresh connections (so on both workers)
    leave the workers' memory where it was (without it: about 19 MiB more per worker that
    hashed)."""
    unlimited = {f"RATE_LIMIT_LOGIN_{k}": "1000/minute" for k in ("ACCOUNT", "DEVICE", "IP")}
    proc, url = start_backend(backend_env(services, **unlimited), workers=2)
    try:
        services.reset()
        api_register(url, "memory@example.org")
        workers = worker_pids(proc.pid)
        assert len(workers) == 2
        before = sum(rss_mib(pid) for pid in workers)
        for _ in range(10):
            with httpx.Client(base_url=url, headers={"Connection": "close"}) as http:
                creds = {"email": "memory@example.org", "password": STRONG_PASSWORD}
                assert http.post("/api/auth/login", json=creds).status_code == 200
        grown = sum(rss_mib(pid) for pid in workers) - before
    finally:
        stop_process(proc)
    assert grown < 10, f"the workers kept {grown} MiB after ten sign-ins"
