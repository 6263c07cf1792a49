"""`nginx -t` accepts the nginx.conf that nix/lib renders around the frontend's
fragment (frontend/nginx/server.conf), as the frontend image and the platform use it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from nixtest_helpers import (
    FRONTEND_FRAGMENT,
    NIX_LIB,
    frontend_web_root,
    mime_types,
    nix_eval,
    require_program,
    to_nix,
)


@pytest.mark.parametrize("api", [False, True], ids=["image", "with-api-proxy"])
def test_nginx_accepts_the_frontend_config(api: bool) -> None:
    nginx = require_program("nginx", "apt-get install nginx")
    if not FRONTEND_FRAGMENT.is_file():
        pytest.skip("frontend/nginx/server.conf does not exist yet (the frontend is not written)")
    root = frontend_web_root()
    assert root is not None
    run_dir = Path(tempfile.mkdtemp(prefix="nix-lib-nginx-t-"))
    try:
        args = {
            "listen": "127.0.0.1:8081",
            "root": str(root),
            "serverFragment": str(FRONTEND_FRAGMENT),
            "mimeTypes": mime_types(),
            "tempDir": str(run_dir),
        }
        if api:
            args["apiUpstream"] = "http://127.0.0.1:8000"
        conf = run_dir / "nginx.conf"
        conf.write_text(nix_eval(f"(import {NIX_LIB}).nginxMainConf {to_nix(args)}"))
        proc = subprocess.run(
            [nginx, "-t", "-e", "stderr", "-p", str(run_dir), "-c", str(conf)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert "test is successful" in proc.stderr
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
