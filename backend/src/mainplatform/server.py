"""Run uvicorn workers that each own a ``SO_REUSEPORT`` socket.

uvicorn's own ``--workers`` shares one listening socket between the workers; whichever worker
wakes first takes a new connection, so long-lived keep-alive connections (from Traefik, or a
load generator) pile up on one worker while the other idles. With one socket per worker in a
``SO_REUSEPORT`` group the kernel spreads connections evenly. This module is only the small
supervisor around that: start N workers, restart one that dies, stop all on SIGTERM/SIGINT.

Memory: the supervisor imports the app's modules once (no app, no event loop, no connection,
no thread: those are each worker's), freezes them out of the garbage collector's reach and
forks the workers, which then share those pages copy-on-write instead of each importing its
own copy (``PREFORK = False`` restores spawned workers; ``python -m tests.benchmarks.backend``
prints the backend's PSS).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import logging
import multiprocessing
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from typing import Any

from mainplatform.metrics import Metrics, use_multiprocess_values

log = logging.getLogger("mainplatform.server")

PREFORK = True  # fork workers from a supervisor that imported the app (False: spawn them)
RESTART_BACKOFF = 1.0
QUICK_EXIT = 5.0  # a worker that dies this soon after starting counts as a failed start
MAX_FAILED_STARTS = 5


M_MMAP_THRESHOLD = -3  # glibc's mallopt() parameter
MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value, here kept fixed


def return_large_blocks() -> None:
    """Have glibc give large freed blocks back to the kernel, always.

    glibc raises its mmap threshold to the size of the largest mmap'ed block freed so far.
    Argon2's 19 MiB per hash is such a block: after the first hash (the dummy one every worker
    makes at start), each later hash came from the heap, and the heap kept it, about 19 MiB
    resident per worker for good. Setting the threshold turns that adjustment off. Measured
    with 2 workers after logins on both: 120.8 MiB PSS before, 81.5 MiB after. Not glibc
    (no ``mallopt``): nothing to do.
    """
    with contextlib.suppress(AttributeError, OSError):
        ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def uvicorn_options() -> dict[str, Any]:
    return {
        "factory": True,
        "loop": "uvloop",
        "http": "httptools",
        "proxy_headers": False,  # the app reads X-Forwarded-For itself, from trusted proxies only
        "server_header": False,
        "access_log": False,
        "log_config": None,
        "timeout_graceful_shutdown": 10,
    }


def bind(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _worker(app: str, host: str, port: int) -> None:
    import uvicorn

    from mainplatform import logs
    from mainplatform.config import Settings

    return_large_blocks()  # inherited when forked; a spawned worker sets it itself
    logs.configure(Settings.from_env().log_level)
    sock = bind(host, port, reuse_port=True)
    config = uvicorn.Config(app, host=host, port=port, **uvicorn_options())
    uvicorn.Server(config).run(sockets=[sock])


def preload(app: str) -> None:
    """Import what every worker imports, then keep those objects out of the collector's
    generations, so that collections in the workers do not write to (and unshare) them."""
    import uvicorn
    import uvicorn.loops.uvloop
    import uvicorn.protocols.http.httptools_impl  # noqa: F401

    importlib.import_module(app.partition(":")[0])
    use_multiprocess_values()
    gc.collect()
    gc.freeze()


def run(app: str, host: str, port: int, workers: int) -> int:
    """Supervise ``workers`` processes serving ``app`` (an import string of an app factory)."""
    # Fail early and clearly when the address is taken (or pick one free port for the group).
    probe = bind(host, port, reuse_port=port != 0)
    port = probe.getsockname()[1]
    probe.close()
    if PREFORK:
        preload(app)
    ctx: multiprocessing.context.ForkContext | multiprocessing.context.SpawnContext
    ctx = multiprocessing.get_context("fork") if PREFORK else multiprocessing.get_context("spawn")
    procs: list[BaseProcess] = []
    started: dict[int, float] = {}
    stopping = False
    failed_starts = 0

    def start() -> BaseProcess:
        proc = ctx.Process(target=_worker, args=(app, host, port), daemon=False)
        proc.start()
        started[id(proc)] = time.monotonic()
        return proc

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    procs = [start() for _ in range(workers)]
    log.info("started %d workers on %s:%d", workers, host, port)
    while not stopping:
        time.sleep(0.2)
        for i, proc in enumerate(procs):
            if not proc.is_alive() and not stopping:
                quick = time.monotonic() - started.pop(id(proc), 0.0) < QUICK_EXIT
                failed_starts = failed_starts + 1 if quick else 0
                if failed_starts >= MAX_FAILED_STARTS:
                    log.error("workers keep failing at start; giving up")
                    stopping = True
                    break
                log.error("worker %s exited with %s; restarting", proc.pid, proc.exitcode)
                if proc.pid is not None:
                    Metrics.worker_exit(proc.pid)  # its live gauges no longer count
                time.sleep(RESTART_BACKOFF)
                procs[i] = start()
    for proc in procs:
        if proc.is_alive() and proc.pid is not None:
            proc.terminate()  # SIGTERM: uvicorn finishes in-flight requests, then exits
    deadline = time.monotonic() + 15
    for proc in procs:
        proc.join(max(0.1, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join(5)
    return 1 if failed_starts >= MAX_FAILED_STARTS else 0
