"""`nginx -t` accepts the nginx.conf that nix/lib renders around the frontend's
fragment (frontend/nginx/server.conf), as the frontend image and the platform use it."""

from __future__ import annotations

import pytest

from tests.support.web import nginx_config_test


@pytest.mark.parametrize("api", [False, True], ids=["image", "with-api-proxy"])
def test_nginx_accepts_the_frontend_config(api: bool) -> None:
    proc = nginx_config_test(api_upstream="http://127.0.0.1:8000" if api else None)
    assert proc.returncode == 0, proc.stderr
    assert "test is successful" in proc.stderr
