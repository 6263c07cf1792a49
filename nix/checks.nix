# `nix flake check`: the backend's pytest suite in the sandbox, Nix
# formatting, and the rendered platform configuration checked by promtool.
{
  pkgs,
  packages,
  platformLib,
}:

let
  inherit (pkgs) lib;
  root = ../.;
  deps = import ./packages/python-deps.nix pkgs.python3Packages;
  # mypy and ruff too: tests/test_quality.py runs them as part of the suite.
  python = pkgs.python3.withPackages (_: deps.runtime ++ deps.test ++ deps.dev);

  exists = p: builtins.pathExists p;
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
          fileset = lib.fileset.unions (
            [
              ../backend
              ../tests
            ]
            ++ lib.optional (exists ../nix) ../nix
            ++ lib.optional (exists ../frontend) ../frontend
            ++ lib.optional (exists ../modules) ../modules
            ++ lib.optional (exists ../pyproject.toml) ../pyproject.toml
            ++ lib.optional (exists ../pytest.ini) ../pytest.ini
          );
        };
        nativeBuildInputs = [
          python
          packages.backend
          pkgs.ruff
          pkgs.postgresql_16
          pkgs.redis
          pkgs.nginx
          pkgs.traefik
          pkgs.prometheus
        ];
      }
      ''
        cp -r "$src" source
        chmod -R u+w source
        cd source
        export HOME="$TMPDIR"
        export PYTHONPATH="$PWD/backend/src"
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
    pkgs.runCommand "mainplatform-platform-config" { nativeBuildInputs = [ pkgs.prometheus ]; } ''
      promtool check config --syntax-only ${files.local-prometheus}
      promtool check config --syntax-only ${files.production-prometheus}
      mkdir -p "$out"
      ${lib.concatStringsSep "\n" (
        lib.mapAttrsToList (name: file: "cp ${file} \"$out/${name}.json\"") files
      )}
    '';
}
