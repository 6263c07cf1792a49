"""Idle memory of the local stack: prints the PSS of every process tree it runs, and the sum.

    .venv/bin/python -m tests.benchmarks.stack_memory [--settle 20]

Starts the same stack `mainplatform dev` runs (free ports, a temporary state directory),
lets it settle, then reads the PSS of each process tree from /proc (smaps_rollup).
"""

from __future__ import annotations

import argparse
import io
import shutil
import tempfile
import time
from pathlib import Path

from mainplatform_dev.stack import Stack

from tests.benchmarks.procfs import pss_mib
from tests.support import ROOT


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--settle", type=float, default=20, help="seconds to wait after start")
    args = ap.parse_args()
    state = Path(tempfile.mkdtemp(prefix="mainplatform-mem-"))
    out = io.StringIO()
    try:
        with Stack(ROOT, state, auto_ports=True, out=out) as stack:
            time.sleep(args.settle)
            rows: list[tuple[str, float]] = []
            assert stack.postgres is not None and stack.redis is not None
            rows.append(("postgres (all backends)", pss_mib(stack.postgres.pid)))
            assert stack.redis.proc is not None
            rows.append(("redis", pss_mib(stack.redis.proc.pid)))
            for proc in stack.processes:
                assert proc.popen is not None
                rows.append((proc.name, pss_mib(proc.popen.pid)))
            print(out.getvalue())
            for name, mb in rows:
                print(f"{name:<26} {mb:7.1f} MiB PSS")
            print(f"{'total':<26} {sum(mb for _, mb in rows):7.1f} MiB")
    finally:
        shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
