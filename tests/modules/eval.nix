# Applies each file of modules/ to stub arguments (tests/modules/stub-lib.nix
# for lib, a fixed `config` as the module system would pass it) and returns
# what each file assigns, with the mk* tags folded away. Used by
# tests/modules/test_module_eval.py through nix-instantiate.
{
  cfgOverrides ? { },
}:
let
  lib = import ./stub-lib.nix;
  mp = import ../../modules/lib.nix;
  store = name: { outPath = "/nix/store/00000000000000000000000000000000-${name}"; };

  base = {
    enable = true;
    domain = "platform.example.org";
    acmeEmail = "ops@example.org";
    package = store "mainplatform-0.1.0";
    frontendPackage = store "mainplatform-frontend" // {
      webRoot = "/nix/store/00000000000000000000000000000000-mainplatform-frontend/share/mainplatform/frontend/public";
      serverFragment = "/nix/store/00000000000000000000000000000000-mainplatform-frontend/share/mainplatform/frontend/nginx/server.conf";
    };
    workers = 2;
    backendMemoryMax = "512M";
    secrets.jwtSecretFile = "/run/keys/mainplatform-jwt-secret";
    tls = {
      acme = true;
      certificateFile = null;
      keyFile = null;
    };
    grafana = {
      adminPasswordFile = "/run/keys/grafana-admin-password";
      secretKeyFile = "/run/keys/grafana-secret-key";
    };
    backup = {
      enable = true;
      dir = "/var/lib/mainplatform/backups";
      keepDays = 7;
      calendar = "*-*-* 03:15:00";
    };
    settings = { };
    openFirewall = true;
  };
  cfg0 = base // cfgOverrides;
  cfg = cfg0 // {
    finalSettings = mp.hostSettings {
      inherit (cfg0) domain acmeEmail;
      acmeStorage = "/var/lib/traefik/acme.json";
      grafanaDashboards = "/nix/store/00000000000000000000000000000000-dashboards";
      overrides = cfg0.settings;
    };
  };

  config = {
    services = {
      mainplatform = cfg;
      traefik.dataDir = "/var/lib/traefik";
      redis.servers.mainplatform.user = "redis-mainplatform";
      redis.package = store "redis";
      postgresql.package = store "postgresql-16";
    };
  };
  pkgs = {
    postgresql_16 = store "postgresql-16";
    util-linux = store "util-linux";
    coreutils = store "coreutils";
    # Kept as an attribute set (no outPath), so the test can read the script.
    writeShellScriptBin = name: text: { inherit name text; };
  };
  args = {
    inherit config lib pkgs;
    options = { };
    modulesPath = "/nixpkgs/nixos/modules";
  };
  apply = file: lib.resolve ((import file) args);
  files = [
    "default"
    "backend"
    "frontend"
    "proxy"
    "databases"
    "monitoring"
    "backup"
    "security"
  ];
  defaultModule = (import ../../modules/default.nix) args;
in
{
  modules = builtins.listToAttrs (
    map (name: {
      inherit name;
      value = (apply ../../modules/${name}.nix).config or { };
    }) files
  );
  imports = map toString defaultModule.imports;
  options = builtins.mapAttrs (
    _: o:
    if o ? _type then
      builtins.removeAttrs o [ "description" ]
    else
      builtins.mapAttrs (_: x: builtins.removeAttrs x [ "description" ]) o
  ) defaultModule.options.services.mainplatform;
  assertions = map (a: a.assertion) (lib.resolve defaultModule.config).assertions;
}
