"""The NixOS module and the oci host, evaluated by nixpkgs' real module system against
nixpkgs' real option declarations (tests/modules/real/eval.nix).

Runs when MAINPLATFORM_NIXPKGS names a directory holding nixpkgs' lib/ and the files of
tests/modules/nixpkgs-files.txt (their sha256 is checked first); without it every test
here is skipped, saying why. nixpkgs itself (4.4 GB) cannot be had here; these files
are nixpkgs' code and are never committed (README, "Testing the NixOS module").
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.nix import instantiate as nix_instantiate
from tests.support.nix import nixpkgs_dir

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("placeholders", HERE / "real" / "placeholders.py")
assert _spec and _spec.loader
placeholders = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(placeholders)
EVAL = HERE / "real" / "eval.nix"
MANIFEST = HERE / "nixpkgs-files.txt"


def manifest() -> list[list[str]]:
    lines = MANIFEST.read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line and not line.startswith("#")]


@pytest.fixture(scope="module")
def nixpkgs() -> Path:
    root = nixpkgs_dir()
    assert (root / "lib/modules.nix").is_file(), f"{root} has no nixpkgs lib/"
    for path, _repo, _commit, digest in manifest():
        file = root / path
        assert file.is_file(), f"{file} is missing (tests/modules/nixpkgs-files.txt)"
        actual = hashlib.sha256(file.read_bytes()).hexdigest()
        assert actual == digest, f"{file} is not the copy the manifest names"
    placeholders.write(root)
    check_disko(root / "_disko")
    return root


def check_disko(tree: Path) -> None:
    """The disko tree the oci host is evaluated with is the revision flake.lock pins: its
    NAR hash (what Nix checks when it fetches the input) is the lock's narHash."""
    locked = json.loads((HERE.parents[1] / "flake.lock").read_text())["nodes"]["disko"]["locked"]
    assert (tree / "module.nix").is_file(), (
        f"{tree} is missing: disko at {locked['rev']} (git archive of nix-community/disko;"
        " README, 'Testing the NixOS module')"
    )
    proc = subprocess.run(
        ["nix", "--extra-experimental-features", "nix-command", "hash", "path", str(tree)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == locked["narHash"], f"{tree} is not disko {locked['rev']}"


def instantiate(*args: str) -> subprocess.CompletedProcess[str]:
    """nix-instantiate --eval --strict --json with `args` (from here, for up to 300 s);
    the caller reads the result."""
    return nix_instantiate(*args, cwd=HERE, timeout=300)


def evaluate(nixpkgs: Path, attr: str, extra: str = "[ ]") -> subprocess.CompletedProcess[str]:
    return instantiate(
        str(EVAL), "--arg", "nixpkgs", str(nixpkgs), "--arg", "extraModules", extra, "-A", attr
    )


def report(nixpkgs: Path, which: str) -> Any:
    proc = evaluate(nixpkgs, f"{which}.report")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def error(nixpkgs: Path, extra: str, attr: str = "oci.report") -> str:
    proc = evaluate(nixpkgs, attr, extra)
    assert proc.returncode != 0, "the evaluation was expected to fail"
    return proc.stderr


@pytest.fixture(scope="module")
def oci(nixpkgs: Path) -> Any:
    return report(nixpkgs, "oci")


@pytest.fixture(scope="module")
def vm_server(nixpkgs: Path) -> Any:
    return report(nixpkgs, "vmServer")


# The VM tests' nodes besides vmServer (tests/modules/real/eval.nix), evaluated once each.
VM_NODES = ["vm", "vmHttpsServer", "vmDeployServer", "vmDeployUpgrade", "vmDeployBroken"]


@pytest.fixture(scope="module")
def vm_nodes(nixpkgs: Path) -> dict[str, Any]:
    return {name: report(nixpkgs, name) for name in VM_NODES}


@pytest.mark.parametrize("which", ["oci", "vm_server", *VM_NODES])
def test_evaluates_without_failed_assertions(which: str, request: pytest.FixtureRequest) -> None:
    r = (
        request.getfixturevalue("vm_nodes")[which]
        if which in VM_NODES
        else request.getfixturevalue(which)
    )
    assert r["assertions"] == []
    assert r["warnings"] == []
    # every unit nixpkgs renders for the host has its text
    assert all(isinstance(t, str) and t for t in r["units"].values())


def test_the_oci_host(oci: Any) -> None:
    assert oci["hostPlatform"] == "aarch64-linux"
    assert oci["stateVersion"] == "26.05"
    assert oci["postgresql"]["package"] == "postgresql_16"
    ports = oci["finalSettings"]["ports"]
    # 80/443 from the module, 22 from the host policy's sshd (openFirewall)
    assert sorted(oci["firewall"]["allowedTCPPorts"]) == sorted(
        [ports["web"], ports["websecure"], ports["ssh"]]
    )
    assert oci["openssh"]["ports"] == [ports["ssh"]]
    assert oci["openssh"]["settings"]["PasswordAuthentication"] is False
    assert oci["sysctl"]["kernel.kptr_restrict"] == 2
    assert oci["sysctl"]["net.ipv4.conf.all.accept_redirects"] is False
    assert oci["fail2ban"]["enable"] is True
    # taken from nixpkgs' oci-common.nix: the root partition grows with the boot volume
    assert "growpart.service" in oci["units"]


def test_the_file_systems_are_the_disk_layouts(oci: Any) -> None:
    """disko's module turns nix/hosts/oci-disk.nix into fileSystems: mounts by the GPT
    labels the installer writes; the host adds only autoResize."""
    fs = oci["fileSystems"]
    assert set(fs) == {"/", "/boot"}
    assert fs["/"]["device"] == "/dev/disk/by-partlabel/disk-main-root"
    assert fs["/"]["fsType"] == "ext4" and fs["/"]["autoResize"] is True
    assert fs["/boot"]["device"] == "/dev/disk/by-partlabel/disk-main-ESP"
    assert fs["/boot"]["fsType"] == "vfat"
    assert fs["/boot"]["options"] == ["fmask=0077", "dmask=0077"]


def test_the_backend_unit(oci: Any) -> None:
    unit = oci["units"]["mainplatform-backend.service"]
    assert "Type=exec" in unit
    assert "ExecStartPre=" in unit and " migrate" in unit
    assert "LoadCredential=jwt_secret:/var/lib/mainplatform-secrets/jwt-secret" in unit
    assert "ProcSubset" not in unit
    assert "JWT_SECRET=" not in unit
    assert "mainplatform-migrate.service" not in oci["units"]


def test_traefik_from_nix_lib(oci: Any) -> None:
    static = oci["traefik"]["staticConfigOptions"]
    assert "providers" not in static  # the nixpkgs module points the file provider itself
    assert static["certificatesResolvers"]["letsencrypt"]["acme"]["storage"] == (
        "/var/lib/traefik/acme.json"
    )
    dynamic = oci["traefik"]["dynamicConfigOptions"]
    assert set(dynamic["http"]["routers"]) == {"api", "frontend"}
    assert "ExecStart=" in oci["units"]["traefik.service"]


def test_redis_socket_group_and_exporters(oci: Any) -> None:
    redis = oci["redis"]
    assert redis["port"] == 0
    assert redis["group"] in oci["users"]["mainplatform"]["extraGroups"]
    exporters = oci["prometheus"]["exporters"]
    assert all(exporters[name]["enable"] for name in ("node", "postgres", "redis"))
    assert oci["prometheus"]["ruleFiles"], "the alert rules are not loaded"


def test_vm_server_node(vm_server: Any) -> None:
    unit = vm_server["units"]["traefik.service"]
    assert "LoadCredential=tls.crt:/run/keys/mainplatform/tls.crt" in unit
    assert "certificatesResolvers" not in vm_server["traefik"]["staticConfigOptions"]


def test_the_vm_host_is_the_oci_host_for_this_machine(vm_nodes: dict[str, Any], oci: Any) -> None:
    """`nix run .#vm`: every unit of oci, plus the self-signed certificate's; no ACME."""
    vm = vm_nodes["vm"]
    assert vm["hostPlatform"] == "x86_64-linux"
    assert set(vm["units"]) == set(oci["units"]) | {"mainplatform-self-signed-tls.service"}
    assert vm["finalSettings"]["domain"] == "mainplatform.localhost"
    assert vm["finalSettings"]["ports"] == oci["finalSettings"]["ports"]
    assert "certificatesResolvers" not in vm["traefik"]["staticConfigOptions"]
    assert "LoadCredential=tls.crt:/run/keys/mainplatform/tls.crt" in vm["units"]["traefik.service"]


def test_the_vm_forwards_the_platforms_public_ports(nixpkgs: Path, oci: Any) -> None:
    """`nix run .#vm` forwards 127.0.0.1:8443, 8080 and 2222 to the ports nix/lib owns."""
    proc = evaluate(nixpkgs, "vm.forwardPorts")
    assert proc.returncode == 0, proc.stderr
    forwarded = {f["host"]["port"]: f["guest"]["port"] for f in json.loads(proc.stdout)}
    ports = oci["finalSettings"]["ports"]
    assert forwarded == {8443: ports["websecure"], 8080: ports["web"], 2222: ports["ssh"]}
    assert all(f["host"]["address"] == "127.0.0.1" for f in json.loads(proc.stdout))


def test_vm_https_server_orders_from_the_ca_node(vm_nodes: dict[str, Any]) -> None:
    r = vm_nodes["vmHttpsServer"]
    acme = r["traefik"]["staticConfigOptions"]["certificatesResolvers"]["letsencrypt"]["acme"]
    assert acme["caServer"] == "https://acme.test/dir"
    assert acme["httpChallenge"] == {"entryPoint": "web"}
    # no own certificate: Traefik serves what it orders
    assert "LoadCredential=tls.crt" not in r["units"]["traefik.service"]


def test_vm_deploy_systems(vm_nodes: dict[str, Any], vm_server: Any) -> None:
    """The upgrade changes no unit; the broken system's backend cannot start."""
    assert vm_nodes["vmDeployUpgrade"]["units"] == vm_server["units"]
    broken = vm_nodes["vmDeployBroken"]["units"]["mainplatform-backend.service"]
    exec_start = [line for line in broken.splitlines() if line.startswith("ExecStart=")]
    assert len(exec_start) == 1 and exec_start[0].endswith("-coreutils/bin/false")
    assert vm_nodes["vmDeployServer"]["units"] == vm_server["units"]


# --- the harness sees what the stub tier could not (issue findings 1-3) --------------


def test_an_option_that_does_not_exist(nixpkgs: Path) -> None:
    err = error(nixpkgs, "[ { services.traefik.static.settings = { }; } ]")
    assert "The option `services.traefik.static' does not exist" in err


def bare(nixpkgs: Path, module: str, attr: str) -> subprocess.CompletedProcess[str]:
    """Evaluate `attr` of a host made of the real modules and `module` only."""
    expr = (
        f"(import {EVAL} {{ nixpkgs = {nixpkgs}; }}).evaluate "
        f'[ {{ nixpkgs.hostPlatform = "x86_64-linux"; }} ({module}) ]'
    )
    return instantiate("-E", f"({expr}).config.{attr}")


def test_a_mkdefault_of_postgresql_package_clashes_with_nixpkgs(nixpkgs: Path) -> None:
    module = (
        "{ lib, pkgs, ... }: { services.postgresql.enable = true; "
        "services.postgresql.package = lib.mkDefault pkgs.postgresql_16; }"
    )
    proc = bare(nixpkgs, module, "services.postgresql.package.name")
    assert "`services.postgresql.package' is defined multiple times" in proc.stderr
    # what the module does instead: a plain definition wins over nixpkgs' mkDefault
    proc = bare(nixpkgs, module.replace("lib.mkDefault ", ""), "services.postgresql.package.name")
    assert json.loads(proc.stdout) == "postgresql_16", proc.stderr


def test_a_sysctl_mkdefault_clashes_with_nixpkgs(nixpkgs: Path) -> None:
    module = '{ lib, ... }: { boot.kernel.sysctl."kernel.kptr_restrict" = lib.mkDefault 2; }'
    proc = bare(nixpkgs, module, 'boot.kernel.sysctl."kernel.kptr_restrict"')
    assert "kernel.kptr_restrict\"' is defined multiple times" in proc.stderr
    # what modules/host-policy.nix does instead
    proc = bare(
        nixpkgs,
        module.replace("lib.mkDefault", "lib.mkOverride 900"),
        'boot.kernel.sysctl."kernel.kptr_restrict"',
    )
    assert json.loads(proc.stdout) == 2, proc.stderr


def test_a_stub_cannot_shadow_a_real_declaration(nixpkgs: Path) -> None:
    module = (
        "[ ({ lib, ... }: { options.services.traefik.dataDir = "
        "lib.mkOption { type = lib.types.anything; }; }) ]"
    )
    assert "is already declared in" in error(nixpkgs, module)


def _backend_environment(report: Any) -> dict[str, str]:
    env: dict[str, str] = report["services"]["mainplatform-backend"]["environment"]
    return env


def test_the_backend_environment_loads_as_the_declared_settings(oci: Any) -> None:
    """The environment the module writes is read by the backend's own loader, and every
    operator setting of the declaration reaches it (backend/src/mainplatform/config.py)."""
    import secrets

    from mainplatform.config import Settings, describe

    env = _backend_environment(oci)
    operator = {s["env"] for s in describe() if s["owner"] == "operator"}
    defaulted = {s["env"] for s in describe() if s["owner"] == "operator" and s["default"]}
    assert defaulted <= set(env), defaulted - set(env)
    assert not {k for k in env if k.endswith("_SECRET")}  # secrets come as credentials
    settings = Settings.from_env({**env, "JWT_SECRET": secrets.token_urlsafe(48)})
    assert settings.port == oci["finalSettings"]["ports"]["backend"]
    assert settings.cookie_secure is True
    assert {str(n) for n in settings.trusted_proxies} == {"127.0.0.1/32"}
    assert operator  # the check looked at something


def test_operator_settings_are_typed_options(nixpkgs: Path) -> None:
    extra = """[ {
      services.mainplatform.backend.settings = {
        RATE_LIMIT_LOGIN_IP = "5/minute";
        ACCESS_TOKEN_TTL = 600;
        TRUSTED_PROXIES = [ "10.0.0.0/24" ];
        ACCESS_LOG = false;
      };
    } ]"""
    proc = evaluate(nixpkgs, "oci.report", extra)
    assert proc.returncode == 0, proc.stderr
    env = _backend_environment(json.loads(proc.stdout))
    assert env["RATE_LIMIT_LOGIN_IP"] == "5/minute"
    assert env["ACCESS_TOKEN_TTL"] == "600"
    assert env["TRUSTED_PROXIES"] == "127.0.0.1,10.0.0.0/24"  # Traefik stays trusted
    assert env["ACCESS_LOG"] == "false"
    # the declared bounds are the option's type: nixpkgs' own type check refuses
    stderr = error(nixpkgs, "[ { services.mainplatform.backend.settings.ACCESS_TOKEN_TTL = 5; } ]")
    assert "ACCESS_TOKEN_TTL" in stderr and "is not of type" in stderr
    stderr = error(
        nixpkgs, '[ { services.mainplatform.backend.settings.RATE_LIMIT_API = "lots"; } ]'
    )
    assert "is not of type" in stderr


def test_first_boot_secrets_unit(oci: Any) -> None:
    """The secrets nobody provided are created before the services that read them."""
    unit = oci["units"]["mainplatform-secrets.service"]
    assert "Before=mainplatform-backend.service grafana.service" in unit
    assert "Type=oneshot" in unit and "RemainAfterExit=true" in unit
    assert "PrivateNetwork=true" in unit and "UMask=0077" in unit
    backend = oci["units"]["mainplatform-backend.service"]
    assert "LoadCredential=jwt_secret:/var/lib/mainplatform-secrets/jwt-secret" in backend


def test_secrets_elsewhere_are_never_generated_and_rotation_loads_the_old_key(
    nixpkgs: Path,
) -> None:
    extra = """[ {
      services.mainplatform.secrets.jwtSecretFile = "/run/secrets/jwt";
      services.mainplatform.grafana.adminPasswordFile = "/run/secrets/grafana-admin";
      services.mainplatform.grafana.secretKeyFile = "/run/secrets/grafana-key";
      services.mainplatform.secrets.jwtPreviousSecretFile = "/run/secrets/jwt.previous";
    } ]"""
    proc = evaluate(nixpkgs, "oci.report", extra)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert "mainplatform-secrets.service" not in r["units"]  # sops-nix/agenix own them
    backend = r["units"]["mainplatform-backend.service"]
    assert "LoadCredential=jwt_secret:/run/secrets/jwt" in backend
    assert "LoadCredential=jwt_previous_secret:/run/secrets/jwt.previous" in backend


def test_the_secrets_script_creates_only_what_is_missing(tmp_path: Path) -> None:
    """The unit's script, rendered by modules/lib.nix, run here: each missing file is created
    (0400 in a 0700 directory, from /dev/urandom); a second run and an existing file are
    left alone."""
    import base64
    import subprocess

    from tests.support.nix import module_lib, to_nix

    keys = tmp_path / "secrets"
    given = tmp_path / "mine"
    given.write_text("my own key\n")
    secrets = [
        {"path": str(keys / "jwt-secret"), "bytes": 48, "encoding": "base64"},
        {"path": str(keys / "grafana-secret-key"), "bytes": 32, "encoding": "hex"},
        {"path": str(given), "bytes": 48, "encoding": "base64"},
    ]
    script = module_lib(f"m.secretsScript ({to_nix(secrets)})")
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert run.stdout.count("created ") == 2
    jwt, hexkey = (keys / "jwt-secret").read_text(), (keys / "grafana-secret-key").read_text()
    assert len(base64.b64decode(jwt, validate=True)) == 48
    assert len(bytes.fromhex(hexkey)) == 32
    assert oct((keys / "jwt-secret").stat().st_mode & 0o777) == "0o400"
    assert oct(keys.stat().st_mode & 0o777) == "0o700"
    assert given.read_text() == "my own key\n"
    again = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert again.stdout == ""
    assert (keys / "jwt-secret").read_text() == jwt  # never replaced
    other = tmp_path / "other"
    fresh = [dict(secrets[0], path=str(other / "jwt-secret"))]
    subprocess.run(["bash", "-c", module_lib(f"m.secretsScript ({to_nix(fresh)})")], check=True)
    assert (other / "jwt-secret").read_text() != jwt


def test_the_smtp_relay_is_typed_options_and_its_password_a_credential(nixpkgs: Path) -> None:
    """The relay as the module's documentation sets it up for OCI Email Delivery: typed
    options in the environment, the password only as a systemd credential."""
    extra = """[ {
      services.mainplatform.backend.settings = {
        SMTP_HOST = "smtp.email.eu-frankfurt-1.oci.oraclecloud.com";
        SMTP_PORT = 587;
        SMTP_TLS = "STARTTLS";
        SMTP_USERNAME = "ocid1.user.oc1..example";
        MAIL_FROM = "Main Platform <noreply@platform.example.org>";
      };
      services.mainplatform.secrets.smtpPasswordFile = "/run/secrets/smtp-password";
    } ]"""
    proc = evaluate(nixpkgs, "oci.report", extra)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    env = _backend_environment(r)
    assert env["SMTP_HOST"] == "smtp.email.eu-frankfurt-1.oci.oraclecloud.com"
    assert env["SMTP_PORT"] == "587" and env["SMTP_TLS"] == "STARTTLS"
    assert env["MAIL_FROM"] == "Main Platform <noreply@platform.example.org>"
    assert env["PUBLIC_URL"].startswith("https://")  # the links in mails
    assert "SMTP_PASSWORD" not in env
    backend = r["units"]["mainplatform-backend.service"]
    assert "LoadCredential=smtp_password:/run/secrets/smtp-password" in backend
    # A TLS mode the backend does not know is refused by nixpkgs' type check.
    stderr = error(nixpkgs, '[ { services.mainplatform.backend.settings.SMTP_TLS = "SSL"; } ]')
    assert "SMTP_TLS" in stderr and "is not of type" in stderr
    # AUTH needs both halves.
    proc = evaluate(
        nixpkgs,
        "oci.report",
        '[ { services.mainplatform.backend.settings.SMTP_USERNAME = "someone"; } ]',
    )
    assert proc.returncode == 0, proc.stderr
    failed = json.loads(proc.stdout)["assertions"]
    assert any("SMTP_USERNAME and secrets.smtpPasswordFile together" in m for m in failed)
