"""The VM tests' testScripts, checked as the NixOS test driver checks them when its
derivation is built (nixos/lib/testing/driver.nix): mypy over the driver's type
information plus one `name: QemuMachine;` per node, and pyflakes with the driver's
symbols and the node names as builtins. The machine API is stubbed by signature
(tests/nix/driver/prelude.py). Each script is taken from nix/tests with nix-instantiate;
`nodes` (for the scripts that are functions of it) gets stand-ins for the attributes they read."""

from __future__ import annotations

import ast
import functools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.layout import NIX_LIB, ROOT
from tests.support.nix import nix_eval

PRELUDE = Path(__file__).resolve().parent / "driver" / "prelude.py"
TESTS = ["platform", "hardening", "https", "deploy", "recovery"]


@functools.cache
def script_and_nodes(name: str) -> tuple[str, list[str]]:
    expr = f"""
      let
        file = {ROOT}/nix/tests/{name}.nix;
        # the test's arguments (nix/tests/default.nix passes the real ones)
        args = {{
          common = {{ }};
          node = {{ }};
          acmeServer = /nix/store/00000000000000000000000000000000-acme-server;
          deployTool = {{ }};
          sshKeys = {{
            snakeOilPrivateKey = "/nix/store/00000000000000000000000000000000-privkey.snakeoil";
            snakeOilPublicKey = "ecdsa-sha2-nistp256 AAAA snakeoil";
          }};
        }};
        t = import file (builtins.intersectAttrs (builtins.functionArgs (import file)) args);
        node = {{
          networking.primaryIPAddress = "192.168.1.2";
          services.mainplatform.finalSettings = (import {NIX_LIB}).examples.production;
          # stand-ins for the module's secret paths (only interpolated into the scripts)
          services.mainplatform.secrets.jwtSecretFile = "/var/lib/mp-secrets/jwt-secret";
          services.mainplatform.grafana.adminPasswordFile = "/var/lib/mp-secrets/grafana-admin";
          system.build.toplevel = "/nix/store/00000000000000000000000000000000-nixos-system";
          # what nixos/tests/common/acme/server declares
          test-support.acme.caDomain = "acme.test";
        }};
        nodes = builtins.mapAttrs (_: _: node) t.nodes;
      in {{
        script =
          if builtins.isFunction t.testScript
          then t.testScript {{ inherit nodes; }}
          else t.testScript;
        nodes = builtins.attrNames t.nodes;
      }}"""
    out = nix_eval(expr)
    return out["script"], out["nodes"]


def driver_symbols() -> list[str]:
    tree = ast.parse(PRELUDE.read_text(encoding="utf-8"))
    return [
        n.target.id
        for n in tree.body
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
    ]


def mypy_with_types(
    nodes: list[str], script: str, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """mypy over testScriptWithTypes as driver.nix writes it: the prelude, one
    `name: QemuMachine;` per node, then the script; with the driver's flags."""
    typed = tmp_path / "testScriptWithTypes.py"
    hints = " ".join(f"{n}: QemuMachine;" for n in nodes)
    typed.write_text(PRELUDE.read_text(encoding="utf-8") + hints + "\n" + script)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--no-implicit-optional",
            "--pretty",
            "--no-color-output",
            "--no-incremental",
            "--cache-dir=/dev/null",
            str(typed),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("name", TESTS)
def test_mypy_accepts_the_test_script(name: str, tmp_path: Path) -> None:
    script, nodes = script_and_nodes(name)
    proc = mypy_with_types(nodes, script, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", TESTS)
def test_pyflakes_accepts_the_test_script(name: str, tmp_path: Path) -> None:
    script, nodes = script_and_nodes(name)
    file = tmp_path / "test-script"
    file.write_text(script)
    env = dict(os.environ, PYFLAKES_BUILTINS=",".join(nodes + driver_symbols()))
    proc = subprocess.run(
        [sys.executable, "-m", "pyflakes", str(file)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_check_sees_a_type_error(tmp_path: Path) -> None:
    """The int-then-str `port` of the old platform script is what mypy must refuse."""
    script = (
        'for port in [8000]:\n    server.wait_for_open_port(port, "127.0.0.1")\n'
        'host, _, port = "a:1".rpartition(":")\n'
    )
    proc = mypy_with_types(["server"], script, tmp_path)
    assert proc.returncode != 0 and "Incompatible types in assignment" in proc.stdout


def test_every_vm_test_is_checked() -> None:
    """Each test nix/tests/default.nix runs is in TESTS, so its script is checked here."""
    wiring = (ROOT / "nix" / "tests" / "default.nix").read_text(encoding="utf-8")
    run = re.findall(r"=\s*run\s+\./([a-z-]+)\.nix", wiring)
    assert len(run) >= 4 and sorted(run) == sorted(TESTS)
