"""The NixOS module (modules/) as far as it can be checked without nixpkgs.

Each file of modules/ is applied to stub arguments (tests/modules/eval.nix,
tests/modules/stub-lib.nix) and what it assigns is checked: the units, their
environment and sandboxing, the firewall, Traefik/Prometheus/Grafana wired from
nix/lib. Every option path the files set must be in OPTION_PATHS, a list checked
by hand against the nixpkgs sources. None of this evaluates nixpkgs itself:
option types, defaults and merging by the real module system are only exercised
by the VM tests in nix/tests (nix flake check).
"""

from __future__ import annotations

import ast
import fnmatch
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from modtest_helpers import (
    HERE,
    MODULES,
    ROOT,
    evaluate_modules,
    module_lib,
    nix_eval,
    nix_eval_error,
    require_program,
)

NEW_NIX_FILES = sorted(
    [
        *MODULES.glob("*.nix"),
        *(ROOT / "nix/hosts").glob("*.nix"),
        *(ROOT / "nix/tests").glob("*.nix"),
        *HERE.glob("*.nix"),
    ]
)

# Option paths the module may set ("*" one attribute name, "**" anything below),
# each confirmed in the nixpkgs source named beside it.
NIXOS = "nixos/modules/"
UNIT = "nixos/lib/systemd-unit-options.nix"
USERS = NIXOS + "config/users-groups.nix"
NGINX = NIXOS + "services/web-servers/nginx/vhost-options.nix"
TRAEFIK = NIXOS + "services/web-servers/traefik.nix"
POSTGRES = NIXOS + "services/databases/postgresql.nix"
REDIS = NIXOS + "services/databases/redis.nix"
PROM = NIXOS + "services/monitoring/prometheus/default.nix"
EXPORTERS = NIXOS + "services/monitoring/prometheus/exporters.nix"
GRAFANA = NIXOS + "services/monitoring/grafana.nix"
FIREWALL = NIXOS + "services/networking/firewall.nix"
SSHD = NIXOS + "services/networking/ssh/sshd.nix"
FAIL2BAN = NIXOS + "services/security/fail2ban.nix"

# Option paths the module may set ("*" one attribute name, "**" anything below),
# each confirmed in the nixpkgs source named beside it.
OPTION_PATHS: dict[str, str] = {
    "assertions": NIXOS + "misc/assertions.nix",
    "environment.systemPackages": NIXOS + "config/system-path.nix",
    **{f"users.users.*.{o}": USERS for o in ("isSystemUser", "group", "description", "home")},
    "users.users.*.extraGroups": USERS,
    "users.groups.*": USERS,
    "systemd.tmpfiles.settings.**": NIXOS + "system/boot/systemd/tmpfiles.nix",
    **{f"systemd.services.*.{o}": UNIT for o in ("description", "after", "requires", "wants")},
    **{f"systemd.services.*.{o}": UNIT for o in ("wantedBy", "path", "script")},
    "systemd.services.*.environment.**": UNIT,
    "systemd.services.*.serviceConfig.**": UNIT + " (free-form)",
    "systemd.timers.*.description": UNIT,
    "systemd.timers.*.wantedBy": UNIT,
    "systemd.timers.*.timerConfig.**": UNIT,
    "services.nginx.enable": NIXOS + "services/web-servers/nginx/default.nix",
    **{
        f"services.nginx.virtualHosts.*.{o}": NGINX
        for o in ("serverName", "default", "listen", "root", "extraConfig")
    },
    "services.traefik.enable": TRAEFIK,
    "services.traefik.static.settings.**": TRAEFIK,
    "services.traefik.dynamic.dir": TRAEFIK,
    "services.traefik.dynamic.files.*.settings.**": TRAEFIK,
    **{f"services.postgresql.{o}": POSTGRES for o in ("enable", "package", "ensureDatabases")},
    "services.postgresql.ensureUsers": POSTGRES,
    "services.postgresql.settings.**": POSTGRES,
    **{
        f"services.redis.servers.*.{o}": REDIS
        for o in ("enable", "port", "unixSocketPerm", "appendOnly")
    },
    "services.redis.servers.*.settings.**": REDIS,
    **{f"services.prometheus.{o}": PROM for o in ("enable", "listenAddress", "port")},
    **{f"services.prometheus.{o}": PROM for o in ("scrapeConfigs", "ruleFiles", "retentionTime")},
    "services.prometheus.globalConfig.**": PROM,
    **{
        f"services.prometheus.exporters.*.{o}": EXPORTERS
        for o in ("enable", "listenAddress", "port", "extraFlags")
    },
    "services.prometheus.exporters.node.enabledCollectors": EXPORTERS[:-4] + "/node.nix",
    "services.prometheus.exporters.postgres.dataSourceName": EXPORTERS[:-4] + "/postgres.nix",
    "services.grafana.enable": GRAFANA,
    "services.grafana.settings.**": GRAFANA + " (free-form ini)",
    "services.grafana.provision.enable": GRAFANA,
    "services.grafana.provision.datasources.settings.**": GRAFANA,
    "services.grafana.provision.dashboards.settings.**": GRAFANA,
    **{
        f"networking.firewall.{o}": FIREWALL
        for o in ("enable", "allowedTCPPorts", "logRefusedConnections")
    },
    **{f"services.openssh.{o}": SSHD for o in ("enable", "ports", "openFirewall", "settings.*")},
    **{f"services.fail2ban.{o}": FAIL2BAN for o in ("enable", "maxretry", "bantime", "ignoreIP")},
    "services.fail2ban.bantime-increment.*": FAIL2BAN,
    "boot.kernel.sysctl.**": NIXOS + "config/sysctl.nix",
    "security.sudo.execWheelOnly": NIXOS + "security/sudo.nix",
    "nix.settings.*": NIXOS + "config/nix.nix (free-form)",
    "boot.tmp.cleanOnBoot": NIXOS + "system/boot/tmp.nix",
    "services.mainplatform.finalSettings.**": "modules/default.nix (this module)",
}


def option_paths(tree: Any, prefix: str = "") -> list[str]:
    """Dotted paths of every leaf; lists and empty sets are leaves."""
    if isinstance(tree, dict) and tree:
        out: list[str] = []
        for key, value in tree.items():
            out += option_paths(value, f"{prefix}.{key}" if prefix else key)
        return out
    return [prefix]


def allowed(path: str) -> bool:
    parts = path.split(".")
    for pattern in OPTION_PATHS:
        pat = pattern.split(".")
        if pat[-1] == "**":
            head = pat[:-1]
            if len(parts) >= len(head) and all(
                fnmatch.fnmatchcase(a, b) for a, b in zip(parts, head, strict=False)
            ):
                return True
        elif len(pat) == len(parts) and all(
            fnmatch.fnmatchcase(a, b) for a, b in zip(parts, pat, strict=True)
        ):
            return True
    return False


@pytest.fixture(scope="module")
def ev() -> Any:
    return evaluate_modules()


@pytest.fixture(scope="module")
def lib_rendered() -> Any:
    return module_lib(
        'let s = m.hostSettings { domain = "platform.example.org"; acmeEmail = "ops@example.org";'
        ' acmeStorage = "/var/lib/traefik/acme.json";'
        ' grafanaDashboards = "/nix/store/00000000000000000000000000000000-dashboards"; };'
        " in { static = p.traefikStatic s; dynamic = p.traefikDynamic s;"
        " prometheus = p.prometheusConfig s; datasources = p.grafanaDatasources s;"
        " providers = p.grafanaDashboardProviders s; }"
    )


def merged(ev: Any) -> dict[str, Any]:
    """Every file's assignments merged (they do not overlap but for systemd.services)."""
    out: dict[str, Any] = {}

    def merge(a: dict[str, Any], b: dict[str, Any]) -> None:
        for k, v in b.items():
            if k in a and isinstance(a[k], dict) and isinstance(v, dict):
                merge(a[k], v)
            else:
                a[k] = v

    for config in ev["modules"].values():
        merge(out, json.loads(json.dumps(config)))
    return out


# --- files -------------------------------------------------------------------


@pytest.mark.parametrize("path", NEW_NIX_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_new_nix_file_parses(path: Path) -> None:
    nix = require_program("nix-instantiate", "apt-get install nix-bin")
    proc = subprocess.run([nix, "--parse", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_the_module_has_one_file_per_concern(ev: Any) -> None:
    assert [Path(p).name for p in ev["imports"]] == [
        "backend.nix",
        "frontend.nix",
        "proxy.nix",
        "databases.nix",
        "monitoring.nix",
        "backup.nix",
        "security.nix",
    ]


# --- options -----------------------------------------------------------------


def test_option_declarations(ev: Any) -> None:
    opts = ev["options"]
    assert set(opts) == {
        "enable",
        "domain",
        "acmeEmail",
        "package",
        "frontendPackage",
        "workers",
        "backendMemoryMax",
        "secrets",
        "tls",
        "grafana",
        "backup",
        "settings",
        "openFirewall",
        "finalSettings",
    }
    assert opts["enable"]["default"] is False
    assert opts["workers"]["default"] == 2
    assert opts["openFirewall"]["default"] is True
    assert set(opts["secrets"]) == {"jwtSecretFile"}
    assert "default" not in opts["secrets"]["jwtSecretFile"]  # no default secret
    assert set(opts["grafana"]) == {"adminPasswordFile", "secretKeyFile"}
    assert set(opts["tls"]) == {"acme", "certificateFile", "keyFile"}
    assert opts["tls"]["acme"]["default"] is True
    backup = opts["backup"]
    assert set(backup) == {"enable", "dir", "keepDays", "calendar"}
    assert backup["dir"]["default"] == "/var/lib/mainplatform/backups"
    assert backup["keepDays"]["default"] == 7
    assert opts["finalSettings"]["readOnly"] is True


def test_every_option_path_set_was_confirmed_in_nixpkgs(ev: Any) -> None:
    paths = option_paths(merged(ev))
    unknown = sorted({p for p in paths if not allowed(p)})
    assert unknown == [], f"option paths not in OPTION_PATHS (check them in nixpkgs): {unknown}"


def test_assertions_hold_for_a_valid_configuration(ev: Any) -> None:
    assert ev["assertions"] == [True, True, True, True]


@pytest.mark.parametrize(
    ("overrides", "index"),
    [
        ({"secrets": {"jwtSecretFile": "/nix/store/x-jwt"}}, 0),
        ({"secrets": {"jwtSecretFile": "relative/jwt"}}, 0),
        ({"grafana": {"adminPasswordFile": "/nix/store/x", "secretKeyFile": "/run/keys/k"}}, 1),
        ({"tls": {"acme": False, "certificateFile": None, "keyFile": None}}, 2),
        ({"tls": {"acme": False, "certificateFile": "/run/c", "keyFile": "/nix/store/k"}}, 2),
        ({"settings": {"internalAddress": "192.0.2.1"}}, 3),
    ],
)
def test_assertions_refuse(overrides: dict[str, Any], index: int) -> None:
    result = evaluate_modules(overrides)["assertions"]
    assert result[index] is False, result


def test_unknown_settings_are_an_error() -> None:
    err = nix_eval_error(
        f"(import {HERE}/eval.nix {{ cfgOverrides = {{ settings.prots.web = 1; }}; }}).assertions"
    )
    assert "unknown setting prots" in err


# --- backend -----------------------------------------------------------------


def test_backend_unit(ev: Any) -> None:
    units = ev["modules"]["backend"]["systemd"]["services"]
    backend = units["mainplatform-backend"]
    sc = backend["serviceConfig"]
    assert sc["ExecStart"].endswith("-mainplatform-0.1.0/bin/mainplatform serve")
    assert sc["User"] == "mainplatform"
    assert sc["LoadCredential"] == ["jwt_secret:/run/keys/mainplatform-jwt-secret"]
    assert sc["RuntimeDirectory"] == "mainplatform"
    assert sc["MemoryMax"] == "512M"
    env = backend["environment"]
    assert env == {
        "HOST": "127.0.0.1",
        "PORT": "8000",
        "WORKERS": "2",
        "DATABASE_URL": "postgresql:///mainplatform?host=/run/postgresql",
        "REDIS_URL": "unix:///run/redis-mainplatform/redis.sock",
        "TRUSTED_PROXIES": "127.0.0.1",
        "PUBLIC_URL": "https://platform.example.org",
        "COOKIE_SECURE": "true",
        "LOG_LEVEL": "INFO",
        "PROMETHEUS_MULTIPROC_DIR": "/run/mainplatform/metrics",
    }
    assert "mainplatform-migrate.service" in backend["requires"]
    assert "postgresql.target" in backend["requires"]
    assert "redis-mainplatform.service" in backend["requires"]
    migrate = units["mainplatform-migrate"]["serviceConfig"]
    assert migrate["Type"] == "oneshot"
    assert migrate["ExecStart"].endswith("/bin/mainplatform migrate")


def test_admin_tool_runs_the_cli_as_the_service_user(ev: Any) -> None:
    (tool,) = ev["modules"]["backend"]["environment"]["systemPackages"]
    assert tool["name"] == "mainplatform-admin"
    script = tool["text"]
    assert "/bin/runuser -u mainplatform --" in script
    assert "DATABASE_URL='postgresql:///mainplatform?host=/run/postgresql'" in script
    assert script.rstrip().endswith('/bin/mainplatform "$@"')
    assert "jwt" not in script.lower()  # create-admin and migrate need no secret


def test_secret_paths_appear_only_as_credentials(ev: Any) -> None:
    text = json.dumps(merged(ev)["systemd"])
    for path in ("/run/keys/mainplatform-jwt-secret", "/run/keys/grafana-admin-password"):
        assert text.count(path) == 1, path
    for unit in merged(ev)["systemd"]["services"].values():
        for name in unit.get("environment", {}):
            assert "SECRET" not in name and "PASSWORD" not in name, name


def test_hardening() -> None:
    h = module_lib("m.hardening")
    assert h["ProtectSystem"] == "strict"
    for key in (
        "ProtectHome",
        "PrivateTmp",
        "PrivateDevices",
        "NoNewPrivileges",
        "RestrictSUIDSGID",
    ):
        assert h[key] is True, key
    assert h["CapabilityBoundingSet"] == ""
    assert h["RestrictAddressFamilies"] == ["AF_INET", "AF_INET6", "AF_UNIX"]
    assert h["SystemCallFilter"][0] == "@system-service"
    assert h["UMask"] == "0077"


# --- frontend, proxy -----------------------------------------------------------


def test_frontend_nginx_on_loopback(ev: Any) -> None:
    vhost = ev["modules"]["frontend"]["services"]["nginx"]["virtualHosts"]["mainplatform-frontend"]
    assert vhost["listen"] == [{"addr": "127.0.0.1", "port": 8081}]
    assert vhost["root"].endswith("/share/mainplatform/frontend/public")
    assert vhost["extraConfig"].strip() == (
        "include /nix/store/00000000000000000000000000000000-mainplatform-frontend"
        "/share/mainplatform/frontend/nginx/server.conf;"
    )


def test_traefik_with_acme(ev: Any, lib_rendered: Any) -> None:
    traefik = ev["modules"]["proxy"]["services"]["traefik"]
    static = traefik["static"]["settings"]
    expected = dict(lib_rendered["static"])
    del expected["providers"]  # the nixpkgs module sets providers.file.directory
    assert static == expected
    assert (
        static["certificatesResolvers"]["letsencrypt"]["acme"]["storage"]
        == "/var/lib/traefik/acme.json"
    )
    assert static["entryPoints"]["web"]["address"] == ":80"
    assert static["entryPoints"]["websecure"]["address"] == ":443"
    assert static["entryPoints"]["metrics"]["address"] == "127.0.0.1:8082"
    assert "api" not in static
    assert traefik["dynamic"]["dir"] == "/var/lib/traefik/dynamic"
    assert traefik["dynamic"]["files"]["mainplatform"]["settings"] == lib_rendered["dynamic"]
    assert "LoadCredential" not in ev["modules"]["proxy"]["systemd"]["services"]["traefik"].get(
        "serviceConfig", {}
    )


def test_traefik_without_acme() -> None:
    ev = evaluate_modules(
        {
            "tls": {
                "acme": False,
                "certificateFile": "/run/keys/tls.crt",
                "keyFile": "/run/keys/tls.key",
            }
        }
    )
    proxy = ev["modules"]["proxy"]
    traefik = proxy["services"]["traefik"]
    text = json.dumps(traefik)
    assert "certResolver" not in text and "certificatesResolvers" not in text
    dynamic = traefik["dynamic"]["files"]["mainplatform"]["settings"]
    cred = "/run/credentials/traefik.service"
    assert dynamic["tls"]["certificates"] == [
        {"certFile": f"{cred}/tls.crt", "keyFile": f"{cred}/tls.key"}
    ]
    assert dynamic["tls"]["options"]["default"]["minVersion"] == "VersionTLS12"
    for router in dynamic["http"]["routers"].values():
        assert router["entryPoints"] == ["websecure"] and "tls" in router
    assert proxy["systemd"]["services"]["traefik"]["serviceConfig"]["LoadCredential"] == [
        "tls.crt:/run/keys/tls.crt",
        "tls.key:/run/keys/tls.key",
    ]


# --- databases ---------------------------------------------------------------


def test_databases(ev: Any) -> None:
    db = ev["modules"]["databases"]
    pg = db["services"]["postgresql"]
    assert pg["package"].endswith("-postgresql-16")
    assert pg["ensureDatabases"] == ["mainplatform"]
    assert {"name": "mainplatform", "ensureDBOwnership": True} in pg["ensureUsers"]
    assert "enableTCPIP" not in pg  # nixpkgs default: localhost only
    assert "GRANT pg_monitor" in db["systemd"]["services"]["postgresql-setup"]["script"]
    redis = db["services"]["redis"]["servers"]["mainplatform"]
    assert redis["port"] == 0  # no TCP listener
    assert redis["unixSocketPerm"] == 660
    assert db["users"]["users"]["mainplatform"]["extraGroups"] == ["redis-mainplatform"]


# --- monitoring, backup ----------------------------------------------------------


def test_prometheus(ev: Any, lib_rendered: Any) -> None:
    prom = ev["modules"]["monitoring"]["services"]["prometheus"]
    assert prom["listenAddress"] == "127.0.0.1" and prom["port"] == 9090
    assert prom["scrapeConfigs"] == lib_rendered["prometheus"]["scrape_configs"]
    g = lib_rendered["prometheus"]["global"]
    assert prom["globalConfig"] == g
    jobs = {j["job_name"] for j in prom["scrapeConfigs"]}
    assert jobs == {"backend", "traefik", "prometheus", "node", "postgres", "redis"}
    if (ROOT / "nix/observability/alerts.yml").exists():
        assert len(prom["ruleFiles"]) == 1 and prom["ruleFiles"][0].endswith("alerts.yml")
    exporters = prom["exporters"]
    for name, port in (("node", 9100), ("postgres", 9187), ("redis", 9121)):
        assert exporters[name]["listenAddress"] == "127.0.0.1", name
        assert exporters[name]["port"] == port, name
    assert exporters["redis"]["extraFlags"] == [
        "-redis.addr=unix:///run/redis-mainplatform/redis.sock"
    ]
    assert "user=postgres-exporter" in exporters["postgres"]["dataSourceName"]


def test_node_exporter_reads_where_the_backup_writes(ev: Any) -> None:
    flags = ev["modules"]["monitoring"]["services"]["prometheus"]["exporters"]["node"]["extraFlags"]
    textfile = flags[0].removeprefix("--collector.textfile.directory=")
    backup = ev["modules"]["backup"]["systemd"]["services"]["mainplatform-backup"]
    assert backup["serviceConfig"]["ExecStart"].endswith(
        "/bin/mainplatform backup --dir /var/lib/mainplatform/backups --keep-days 7"
        f" --textfile-dir {textfile}"
    )
    assert textfile in backup["serviceConfig"]["ReadWritePaths"]
    assert backup["serviceConfig"]["User"] == "mainplatform"
    assert [p.rsplit("-", 1)[-1] for p in backup["path"]] == ["16", "redis"]
    timer = ev["modules"]["backup"]["systemd"]["timers"]["mainplatform-backup"]
    assert timer["timerConfig"]["OnCalendar"] == "*-*-* 03:15:00"
    assert timer["timerConfig"]["Persistent"] is True


def test_backup_can_be_turned_off() -> None:
    ev = evaluate_modules(
        {"backup": {"enable": False, "dir": "/b", "keepDays": 1, "calendar": "daily"}}
    )
    assert ev["modules"]["backup"] == {}


def test_grafana(ev: Any, lib_rendered: Any) -> None:
    mon = ev["modules"]["monitoring"]
    grafana = mon["services"]["grafana"]
    server = grafana["settings"]["server"]
    assert server["http_addr"] == "127.0.0.1" and server["http_port"] == 3000
    security = grafana["settings"]["security"]
    cred = "/run/credentials/grafana.service"
    assert security["admin_password"] == f"$__file{{{cred}/admin_password}}"
    assert security["secret_key"] == f"$__file{{{cred}/secret_key}}"
    assert grafana["settings"]["auth.anonymous"]["enabled"] is False
    assert grafana["provision"]["datasources"]["settings"] == lib_rendered["datasources"]
    assert grafana["provision"]["datasources"]["settings"]["datasources"][0]["uid"] == "prometheus"
    assert grafana["provision"]["dashboards"]["settings"] == lib_rendered["providers"]
    assert mon["systemd"]["services"]["grafana"]["serviceConfig"]["LoadCredential"] == [
        "admin_password:/run/keys/grafana-admin-password",
        "secret_key:/run/keys/grafana-secret-key",
    ]


# --- security ------------------------------------------------------------------


def test_firewall_and_ssh(ev: Any) -> None:
    sec = ev["modules"]["security"]
    assert sec["networking"]["firewall"]["allowedTCPPorts"] == [22, 80, 443]
    production = '{ mode = "production"; domain = "a.example"; acmeEmail = "o@a.example"; }'
    assert module_lib(f"m.firewallTcpPorts {production}") == [22, 80, 443]
    ssh = sec["services"]["openssh"]
    assert ssh["openFirewall"] is False and ssh["ports"] == [22]
    assert ssh["settings"]["PasswordAuthentication"] is False
    assert ssh["settings"]["KbdInteractiveAuthentication"] is False
    assert sec["services"]["fail2ban"]["enable"] is True


def test_closed_firewall_when_asked() -> None:
    ev = evaluate_modules({"openFirewall": False})
    assert "allowedTCPPorts" not in ev["modules"]["security"]["networking"]["firewall"]


def test_settings_overrides_reach_every_part() -> None:
    ev = evaluate_modules({"settings": {"ports": {"frontend": 8091, "prometheus": 9091}}})
    vhost = ev["modules"]["frontend"]["services"]["nginx"]["virtualHosts"]["mainplatform-frontend"]
    assert vhost["listen"][0]["port"] == 8091
    dynamic = ev["modules"]["proxy"]["services"]["traefik"]["dynamic"]["files"]["mainplatform"][
        "settings"
    ]
    assert dynamic["http"]["services"]["frontend"]["loadBalancer"]["servers"] == [
        {"url": "http://127.0.0.1:8091"}
    ]
    mon = ev["modules"]["monitoring"]["services"]
    assert mon["prometheus"]["port"] == 9091
    assert (
        mon["grafana"]["provision"]["datasources"]["settings"]["datasources"][0]["url"]
        == "http://127.0.0.1:9091"
    )


# --- the host and the flake ----------------------------------------------------------


def test_oci_host() -> None:
    host = nix_eval(
        f"let lib = import {HERE}/stub-lib.nix; in lib.resolve (import {ROOT}/nix/hosts/oci.nix"
        ' { inherit lib; modulesPath = "/nixpkgs/nixos/modules"; config = { }; pkgs = { }; })'
    )
    assert host["imports"] == ["/nixpkgs/nixos/modules/profiles/qemu-guest.nix"]
    assert host["boot"]["loader"]["systemd-boot"]["enable"] is True
    assert "console=ttyAMA0,115200" in host["boot"]["kernelParams"]
    for module in ("virtio_pci", "virtio_scsi"):
        assert module in host["boot"]["initrd"]["availableKernelModules"]
    assert host["fileSystems"]["/"]["device"] == "/dev/disk/by-label/nixos"
    assert host["fileSystems"]["/boot"]["fsType"] == "vfat"
    assert host["system"]["stateVersion"] == "26.05"
    mp = host["services"]["mainplatform"]
    assert mp["enable"] is True
    for path in (
        mp["secrets"]["jwtSecretFile"],
        mp["grafana"]["adminPasswordFile"],
        mp["grafana"]["secretKeyFile"],
    ):
        assert module_lib(f'm.isExternalPath "{path}"') is True
    text = (ROOT / "nix/hosts/oci.nix").read_text(encoding="utf-8")
    assert text.count("SET ME") >= 4


FLAKE = f"""
let
  flake = import {ROOT}/flake.nix;
  mock = import {ROOT}/tests/nix/mock-nixpkgs.nix;
  nixosSystem = args: {{ nixosSystemArgs = args; }};
  nixpkgs = mock // {{ lib = mock.lib // {{ inherit nixosSystem; }}; }};
  self = outputs // {{ lastModifiedDate = "20261129123456"; outPath = "{ROOT}"; }};
  outputs = flake.outputs {{ inherit self nixpkgs; }};
  stub = import {HERE}/stub-lib.nix;
  pkgs = mock.legacyPackages.aarch64-linux;
  defaultModule = stub.resolve (outputs.nixosModules.default {{ lib = stub; inherit pkgs; }});
  oci = outputs.nixosConfigurations.oci.nixosSystemArgs;
in {{
  system = oci.system;
  modules = map (m: if builtins.isFunction m then "function" else toString m) oci.modules;
  defaultImports = map toString defaultModule.imports;
  backend = defaultModule.services.mainplatform.package.name;
  frontend = defaultModule.services.mainplatform.frontendPackage.name;
  plain = toString outputs.nixosModules.mainplatform;
  x86Checks = builtins.attrNames outputs.checks.x86_64-linux;
  armChecks = builtins.attrNames outputs.checks.aarch64-linux;
  vmTests = builtins.mapAttrs (n: v: v.test.name) (builtins.removeAttrs outputs.checks.x86_64-linux
    (builtins.attrNames outputs.checks.aarch64-linux));
}}
"""


def test_flake_outputs_for_the_module() -> None:
    out = nix_eval(FLAKE)
    assert out["system"] == "aarch64-linux"
    assert out["modules"] == ["function", f"{ROOT}/nix/hosts/oci.nix"]
    assert out["defaultImports"] == [f"{ROOT}/modules"]
    assert out["plain"] == f"{ROOT}/modules"
    assert out["backend"] == "mainplatform-0.1.0"
    assert out["frontend"] == "mainplatform-frontend"
    assert out["vmTests"] == {
        "vm-platform": "mainplatform-platform",
        "vm-hardening": "mainplatform-hardening",
    }
    assert not any(c.startswith("vm-") for c in out["armChecks"])


# --- the VM tests ------------------------------------------------------------------

SCRIPTS = f"""
let
  nodes.server.networking.primaryIPAddress = "192.168.1.2";
  platform = import {ROOT}/nix/tests/platform.nix {{
    common = {{ }};
    hasAlerts = true;
    hasDashboards = true;
  }};
  hardening = import {ROOT}/nix/tests/hardening.nix {{ common = {{ }}; }};
in {{
  platform = platform.testScript {{ inherit nodes; }};
  hardening = hardening.testScript;
  nodes = builtins.attrNames platform.nodes;
}}
"""


def test_vm_test_scripts_are_python() -> None:
    out = nix_eval(SCRIPTS)
    assert out["nodes"] == ["client", "server"]
    for name in ("platform", "hardening"):
        ast.parse(out[name], filename=f"nix/tests/{name}.nix")
    script = out["platform"]
    for what in (
        "every unit of the platform is active",
        "/api/health",
        "/api/auth/register",
        "/api/auth/login",
        "/metrics is not reachable through the proxy",
        "every Prometheus target is up",
        "the firewall",
        "mainplatform-backup.service",
        'IP = "192.168.1.2"',
    ):
        assert what in script, what
