# `nix flake check`: the backend's pytest suite in the sandbox, Nix
# formatting, the rendered platform configuration checked by promtool, and
# the evaluation of the oci host (no build, no aarch64 builder needed).
{
  pkgs,
  packages,
  platformLib,
  nixosConfigurations,
}:

let
  inherit (pkgs) lib;
  root = ../.;
  deps = import ./packages/python-deps.nix pkgs.python3Packages;
  # mypy and ruff too: tests/test_quality.py runs them as part of the suite.
  python = pkgs.python3.withPackages (_: deps.runtime ++ deps.test ++ deps.dev);

  # promtool is in prometheus' `cli` output, not on pkgs.prometheus' PATH.
  promtool = pkgs.prometheus.cli;
in
{
  inherit (packages) backend;

  # The project's tests against throwaway PostgreSQL and Redis servers that
  # the fixtures start themselves (initdb/pg_ctl/postgres and redis-server
  # from PATH, on 127.0.0.1; the sandbox has no network). Tiers that need
  # nix-instantiate (tests/nix, tests/modules, tests/stack) or Chromium
  # (tests/browser) skip themselves here; they run in .ci/run.
  backend-tests =
    pkgs.runCommand "mainplatform-backend-tests"
      {
        src = lib.fileset.toSource {
          inherit root;
          fileset = lib.fileset.unions [
            ../backend
            ../tests
            ../nix
            ../frontend
            ../modules
          ];
        };
        nativeBuildInputs = [
          python
          packages.backend
          pkgs.ruff
          pkgs.postgresql_16
          pkgs.redis
          pkgs.nginx
          pkgs.traefik
          promtool
          # tests/frontend: the frontend's type check (tsc on PATH; no npm in the sandbox)
          pkgs.typescript
          pkgs.nodejs
          # tests/stack/test_acme.py: Let's Encrypt's test CA and its DNS, and openssl
          pkgs.pebble
          pkgs.openssl
        ];
      }
      ''
        cp -r "$src" source
        chmod -R u+w source
        cd source
        export HOME="$TMPDIR"
        export PYTHONPATH="$PWD/backend/src:$PWD/backend/dev/src"
        export PYTHONDONTWRITEBYTECODE=1
        python -m pytest -p no:cacheprovider -q tests --ignore=tests/nix
        touch "$out"
      '';

  # Every .nix file is formatted by nixfmt (RFC 166 style); `nix fmt` fixes it.
  formatting =
    pkgs.runCommand "mainplatform-nixfmt-check"
      {
        src = lib.fileset.toSource {
          inherit root;
          fileset = lib.fileset.fileFilter (file: file.hasExt "nix") root;
        };
        nativeBuildInputs = [ pkgs.nixfmt ];
      }
      ''
        cd "$src"
        find . -name '*.nix' -print0 | xargs -0 nixfmt --check
        touch "$out"
      '';

  # nix/lib renders for both modes, and promtool accepts the Prometheus
  # configuration (Traefik and nginx are checked against the real programs
  # by tests/nix).
  platform-config =
    let
      render = mode: overrides: platformLib.render (platformLib.examples.${mode} // overrides);
      local = render "local" { };
      production = render "production" {
        paths = platformLib.examples.production.paths // {
          prometheusRules = [ ];
        };
      };
      files = lib.mapAttrs (name: value: pkgs.writeText "${name}.json" (builtins.toJSON value)) {
        local-prometheus = local.prometheus;
        production-prometheus = production.prometheus;
        local-traefik-static = local.traefikStatic;
        production-traefik-static = production.traefikStatic;
      };
    in
    pkgs.runCommand "mainplatform-platform-config" { nativeBuildInputs = [ promtool ]; } ''
      promtool check config --syntax-only ${files.local-prometheus}
      promtool check config --syntax-only ${files.production-prometheus}
      mkdir -p "$out"
      ${lib.concatStringsSep "\n" (
        lib.mapAttrsToList (name: file: "cp ${file} \"$out/${name}.json\"") files
      )}
    '';

  # Evaluation of the production host, as `nixos-rebuild` would do it first:
  # an option that does not exist, a type error, a clash of two definitions
  # or a failed assertion fails this check in seconds. Only the .drv path is
  # forced (its context is dropped), so nothing for aarch64 is built.
  oci-evaluates = pkgs.writeText "oci-toplevel-drv-path" (
    builtins.unsafeDiscardStringContext nixosConfigurations.oci.config.system.build.toplevel.drvPath
  );
}
