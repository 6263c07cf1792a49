"""The flake's outputs evaluate, against a stand-in for nixpkgs
(tests/nix/mock-nixpkgs.nix), and pass what the design asks for to the
nixpkgs builders. Only Nix with nixpkgs can build them; this catches the
mistakes in our own Nix before anyone gets that far."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.layout import ROOT
from tests.support.nix import nix_eval

SUMMARY = f"""
let
  flake = import {ROOT}/flake.nix;
  nixpkgs = import {ROOT}/tests/nix/mock-nixpkgs.nix;
  self = outputs // {{ lastModifiedDate = "20261129123456"; outPath = "{ROOT}"; }};
  # disko's flake: only its module is used (nix/hosts/oci-disk.nix)
  disko = {{ nixosModules.disko = {{ }}; }};
  outputs = flake.outputs {{ inherit self nixpkgs disko; }};
  summarise = sys: let
    p = outputs.packages.${{sys}};
    names = image: image.args // {{ contents = map (c: c.name) image.args.contents; }};
  in {{
    packages = builtins.attrNames p;
    default = p.default.name;
    backend = {{
      inherit (p.backend.args) pname pyproject pythonImportsCheck doCheck;
      buildSystem = map (d: d.name) p.backend.args.build-system;
      dependencies = map (d: d.name) p.backend.args.dependencies;
      mainProgram = p.backend.args.meta.mainProgram;
    }};
    dev = {{
      inherit (p.dev.args) pname pythonImportsCheck;
      dependencies = map (d: d.name) p.dev.args.dependencies;
      mainProgram = p.dev.args.meta.mainProgram;
    }};
    backendImage = names p.backend-image;
    frontendImage = names p.frontend-image;
    images = builtins.mapAttrs (n: v: v.name) p.images.entries;
    checks = builtins.attrNames outputs.checks.${{sys}};
    checkScripts = builtins.mapAttrs (n: v: v.script or "") outputs.checks.${{sys}};
    shell = map (x: x.name) outputs.devShells.${{sys}}.default.args.packages;
    formatter = outputs.formatter.${{sys}}.name;
    apps = builtins.mapAttrs (n: a: {{ inherit (a) type program; }}) outputs.apps.${{sys}};
  }};
in {{
  x86_64-linux = summarise "x86_64-linux";
  aarch64-linux = summarise "aarch64-linux";
  systems = builtins.attrNames outputs.packages;
  libFunctions = builtins.length (builtins.attrNames outputs.lib);
}}
"""


@pytest.fixture(scope="module")
def outputs() -> Any:
    return nix_eval(SUMMARY)


def test_both_systems(outputs: Any) -> None:
    assert outputs["systems"] == ["aarch64-linux", "x86_64-linux"]
    assert outputs["libFunctions"] > 10


@pytest.mark.parametrize("system", ["x86_64-linux", "aarch64-linux"])
def test_packages(outputs: Any, system: str) -> None:
    out = outputs[system]
    assert out["packages"] == sorted(
        [
            "backend",
            "deploy",
            "dev",
            "frontend",
            "backend-image",
            "frontend-image",
            "images",
            "default",
        ]
    )
    assert out["default"] == "mainplatform-0.1.0"
    assert out["images"] == {
        "backend.tar.gz": "mainplatform-backend.tar.gz",
        "frontend.tar.gz": "mainplatform-frontend.tar.gz",
    }
    assert out["formatter"] == "nixfmt-tree"


def test_backend_package(outputs: Any) -> None:
    backend = outputs["x86_64-linux"]["backend"]
    assert backend["pname"] == "mainplatform"
    assert backend["pyproject"] is True
    assert backend["buildSystem"] == ["hatchling"]
    assert backend["pythonImportsCheck"] == ["mainplatform"]
    assert backend["mainProgram"] == "mainplatform"
    for dep in (
        "starlette",
        "uvicorn",
        "uvloop",
        "httptools",
        "psycopg",
        "psycopg-pool",
        "redis",
        "hiredis",
        "authlib",
        "joserfc",
        "argon2-cffi",
        "prometheus-client",
        "itsdangerous",
    ):
        assert dep in backend["dependencies"], dep


def test_dev_tools_are_a_package_of_their_own(outputs: Any) -> None:
    """The local stack is `mainplatform-dev`, built on the runtime package; no image holds it."""
    dev = outputs["x86_64-linux"]["dev"]
    assert dev["pname"] == "mainplatform-dev"
    assert dev["pythonImportsCheck"] == ["mainplatform_dev"]
    assert dev["dependencies"] == ["mainplatform-0.1.0"]
    assert dev["mainProgram"] == "mainplatform-dev"
    for image in ("backendImage", "frontendImage"):
        contents = outputs["x86_64-linux"][image]["contents"]
        assert not [c for c in contents if "mainplatform-dev" in c], contents
    apps = outputs["x86_64-linux"]["apps"]
    assert apps["dev"]["type"] == apps["deploy"]["type"] == "app"
    assert apps["deploy"]["program"].endswith("/bin/mainplatform-deploy")
    assert apps["vm"]["type"] == "app" and apps["vm"]["program"].endswith("/bin/mainplatform-vm")


def test_backend_dependencies_match_pyproject(outputs: Any) -> None:
    import re
    import tomllib

    pyproject = tomllib.loads((ROOT / "backend" / "pyproject.toml").read_text())
    wanted = {
        re.split(r"[\s\[<>=!;~]", req, maxsplit=1)[0].lower()
        for req in pyproject["project"]["dependencies"]
    }
    have = set(outputs["x86_64-linux"]["backend"]["dependencies"])
    assert wanted <= have, f"missing from nix/packages/python-deps.nix: {wanted - have}"


def test_images(outputs: Any) -> None:
    backend = outputs["x86_64-linux"]["backendImage"]
    assert backend["created"] == "2026-11-29T12:34:56Z"
    config = backend["config"]
    assert config["Entrypoint"][0].endswith("-mainplatform-0.1.0/bin/mainplatform")
    assert config["Cmd"] == ["serve"]
    assert config["User"] == "10001:10001"
    assert "8000/tcp" in config["ExposedPorts"]
    assert "HOST=0.0.0.0" in config["Env"] and "PORT=8000" in config["Env"]
    assert "fake-nss" in backend["contents"]

    frontend = outputs["x86_64-linux"]["frontendImage"]
    config = frontend["config"]
    assert config["Entrypoint"][0].endswith("-nginx/bin/nginx")
    assert config["User"] == "10001:10001"
    assert "8080/tcp" in config["ExposedPorts"]
    assert frontend["created"] == backend["created"]


def test_checks_and_shell(outputs: Any) -> None:
    out = outputs["x86_64-linux"]
    assert {"backend-tests", "formatting", "platform-config", "oci-evaluates"} <= set(out["checks"])
    assert {"vm-platform-driver", "vm-hardening-driver"} <= set(out["checks"])
    assert "pytest" in out["checkScripts"]["backend-tests"]
    assert "nixfmt --check" in out["checkScripts"]["formatting"]
    assert "promtool check config" in out["checkScripts"]["platform-config"]
    for tool in (
        "python3-env",
        "postgresql_16",
        "redis",
        "traefik",
        "prometheus",
        "prometheus-cli",
        "nginx",
        "nixfmt",
        "wrk",
        "ruff",
        "grafana",
    ):
        assert tool in out["shell"], tool


def test_apps(outputs: Any) -> None:
    """`nix run .#dev` runs `mainplatform dev` with every program of the stack from nixpkgs;
    `nix run` is the CLI."""
    for system in ("x86_64-linux", "aarch64-linux"):
        apps = outputs[system]["apps"]
        assert {"dev", "default"} <= set(apps)
        assert all(a["type"] == "app" for a in apps.values())
        assert apps["default"]["program"].endswith("-mainplatform-0.1.0/bin/mainplatform")
        assert apps["dev"]["program"].endswith("-mainplatform-dev/bin/mainplatform-dev")
