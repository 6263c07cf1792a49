"""The runtime package is what production runs: no development tool inside it or imported by
it (the local stack and the test servers are the separate ``mainplatform-dev`` package)."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support import ROOT

RUNTIME = ROOT / "backend" / "src" / "mainplatform"
DEV_PACKAGE = "mainplatform_dev"


@pytest.mark.slow
def test_the_runtime_wheel_holds_no_dev_module(tmp_path: Path) -> None:
    """The wheel pip builds from backend/ (the OCI image and the Nix package build the same
    pyproject) contains the ``mainplatform`` package only."""
    r = subprocess.run(
        # a path, not the name "backend" (which pip would look up in the package index)
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), "./backend"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    (wheel,) = tmp_path.glob("mainplatform-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    modules = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert modules == {"mainplatform"}, modules
    assert not [n for n in names if "devstack" in n or "devservices" in n or DEV_PACKAGE in n]
    assert "mainplatform/app.py" in names  # the check looked at a real wheel


def test_runtime_sources_never_import_the_dev_package() -> None:
    offenders = []
    for path in RUNTIME.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith(DEV_PACKAGE)]
    assert not offenders


def test_importing_and_building_the_app_loads_no_dev_module() -> None:
    code = f"""
import pkgutil, importlib, sys, secrets
import mainplatform
for m in pkgutil.walk_packages(mainplatform.__path__, "mainplatform."):
    if m.name != "mainplatform.__main__":
        importlib.import_module(m.name)
from mainplatform.config import Settings
from mainplatform.app import create_app
create_app(Settings(database_url="postgresql:///x", redis_url="redis://127.0.0.1:1",
                    jwt_secret=secrets.token_urlsafe(48)))
loaded = sorted(n for n in sys.modules if n.startswith("{DEV_PACKAGE}"))
print(loaded)
assert not loaded, loaded
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "[]"


def test_mainplatform_dev_says_how_to_get_the_dev_package(tmp_path: Path) -> None:
    """Without ``mainplatform-dev`` installed, ``mainplatform dev`` says what to install."""
    code = (
        "import sys, importlib.util; real = importlib.util.find_spec;"
        f"importlib.util.find_spec = lambda n, *a: None if n == '{DEV_PACKAGE}' else real(n, *a);"
        "from mainplatform.cli import main; sys.exit(main(['dev', '--help']))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "pip install -e backend/dev" in r.stderr


def test_a_password_only_worker_never_loads_authlib() -> None:
    """authlib and httpx2 (about 10 MiB per worker) load only when OIDC is configured."""
    code = """
import secrets, sys
import mainplatform.asgi
from mainplatform.config import Settings
from mainplatform.app import create_app
base = dict(database_url="postgresql:///x", redis_url="redis://127.0.0.1:1",
            jwt_secret=secrets.token_urlsafe(48))
create_app(Settings(**base))
print(sorted(n for n in ("authlib", "httpx2") if n in sys.modules))
create_app(Settings(**base, oidc_issuer="https://idp.example.org", oidc_client_id="c",
                    oidc_client_secret="s"))
print(sorted(n for n in ("authlib", "httpx2") if n in sys.modules))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.split("\n")[:2] == ["[]", "['authlib', 'httpx2']"]
