# A stand-in for nixpkgs, just big enough to evaluate this flake's outputs
# with a bare nix-instantiate (nixpkgs itself cannot be downloaded here).
# Derivations are plain attribute sets that record their arguments, so a test
# can check what the flake passes to buildPythonApplication, buildLayeredImage
# and friends. The attribute names below are exactly those the flake may use;
# each was checked against the nixpkgs sources (see the Nix section of the
# README), so using any other name fails this evaluation.
let
  drv =
    name: attrs:
    attrs
    // {
      inherit name;
      outPath = "/nix/store/00000000000000000000000000000000-${name}";
    };

  genAttrs =
    names: f:
    builtins.listToAttrs (
      map (n: {
        name = n;
        value = f n;
      }) names
    );

  systems = [
    "x86_64-linux"
    "aarch64-linux"
  ];

  lib = {
    inherit genAttrs;
    # A NixOS system: records its modules; has the attributes the flake's
    # apps and checks read (the real one is checked by tests/modules/real).
    nixosSystem = args: {
      inherit args;
      config = {
        system.name = "nixos";
        system.build.vm = drv "nixos-vm" { };
        system.build.toplevel = drv "nixos-system" { };
        services.mainplatform.domain = "mainplatform.localhost";
        services.mainplatform.finalSettings.ports = {
          websecure = 443;
          ssh = 22;
        };
        virtualisation.vmVariant.virtualisation.forwardPorts = [
          {
            host.port = 8443;
            guest.port = 443;
          }
          {
            host.port = 2222;
            guest.port = 22;
          }
        ];
      };
    };
    importTOML = path: builtins.fromTOML (builtins.readFile path);
    fileset = {
      toSource = { root, fileset }: toString root;
      unions = list: list;
      fileFilter = pred: path: path;
    };
    findFirst =
      pred: default: list:
      let
        found = builtins.filter pred list;
      in
      if found == [ ] then default else builtins.head found;
    optional = cond: x: if cond then [ x ] else [ ];
    optionalAttrs = cond: set: if cond then set else { };
    optionalString = cond: s: if cond then s else "";
    mapAttrs = builtins.mapAttrs;
    mapAttrsToList = f: set: map (n: f n set.${n}) (builtins.attrNames set);
    concatStringsSep = builtins.concatStringsSep;
    licenses.mit = "mit";
    platforms = {
      linux = systems;
      all = systems;
    };
  };

  pythonPackageNames = [
    "starlette"
    "uvicorn"
    "uvloop"
    "httptools"
    "redis"
    "hiredis"
    "authlib"
    "joserfc"
    "argon2-cffi"
    "prometheus-client"
    "msgspec"
    "itsdangerous"
    "httpx2"
    "hatchling"
    "pytest"
    "hypothesis"
    "pyyaml"
    "mypy"
  ];

  python3Packages =
    genAttrs pythonPackageNames (n: drv n { })
    // {
      psycopg = drv "psycopg" { optional-dependencies.pool = [ (drv "psycopg-pool" { }) ]; };
      toPythonModule = d: d;
      buildPythonApplication = args: drv "${args.pname}-${args.version}" {
        inherit args;
        inherit (args) version;
      };
    };

  packageNames = [
    "postgresql_16"
    "redis"
    "traefik"
    "prometheus"
    "prometheus-node-exporter"
    "prometheus-postgres-exporter"
    "prometheus-alertmanager"
    "pgbackrest"
    "restic"
    "prometheus-redis-exporter"
    "nginx"
    "mailcap"
    "nixfmt"
    "nixfmt-tree"
    "nodejs"
    "typescript"
    "wrk"
    "ruff"
    "grafana"
    "nix"
    "nixos-rebuild"
    "pebble"
    "openssl"
    "openssh"
    "curl"
  ];

  pkgsFor =
    system:
    let
      pkgs =
        genAttrs packageNames (n: drv n { })
        // {
          inherit lib python3Packages;
          # pkgs/by-name/pr/prometheus/package.nix: outputs out, doc, cli (promtool).
          prometheus = drv "prometheus" { } // {
            cli = drv "prometheus-cli" { };
          };
          stdenv.hostPlatform.system = system;
          python3 = {
            withPackages = f: drv "python3-env" { packages = f python3Packages; };
            pkgs = python3Packages;
          };
          callPackage =
            path: overrides:
            let
              f = import path;
            in
            f (builtins.intersectAttrs (builtins.functionArgs f) pkgs // overrides);
          runCommand =
            name: env: script:
            drv name { inherit env script; } // (env.passthru or { });
          writeText = name: text: drv name { inherit text; };
          # pkgs/build-support/trivial-builders/default.nix
          writeShellApplication = args: drv args.name { inherit args; };
          linkFarm = name: entries: drv name { inherit entries; };
          # pkgs/build-support/testers/default.nix: takes a test module.
          testers.runNixOSTest =
            test:
            drv "vm-test-run-${test.name}" { inherit test; }
            // {
              driver = drv "nixos-test-driver-${test.name}" { inherit test; };
            };
          mkShell = args: drv "shell" { inherit args; };
          dockerTools = {
            buildLayeredImage = args: drv "${args.name}.tar.gz" { inherit args; };
            fakeNss = drv "fake-nss" { } // {
              override = args: drv "fake-nss" { inherit args; };
            };
            caCertificates = drv "ca-certificates" { };
          };
        };
    in
    pkgs;
in
{
  inherit lib;
  legacyPackages = genAttrs systems pkgsFor;
}
