# `nix develop`: everything the README's commands need.
{ pkgs }:

let
  deps = import ./packages/python-deps.nix pkgs.python3Packages;
  python = pkgs.python3.withPackages (_: deps.runtime ++ deps.test ++ deps.dev);
in
pkgs.mkShell {
  packages = [
    python
    pkgs.ruff
    pkgs.postgresql_16
    pkgs.redis
    pkgs.traefik
    pkgs.prometheus
    # promtool is in prometheus' `cli` output, not on pkgs.prometheus' PATH.
    pkgs.prometheus.cli
    pkgs.prometheus-node-exporter
    pkgs.prometheus-postgres-exporter
    pkgs.prometheus-redis-exporter
    pkgs.nginx
    pkgs.grafana
    pkgs.nixfmt
    pkgs.nixfmt-tree
    pkgs.wrk
    # The frontend's type check: `npm ci --prefix frontend` (the pinned tsc), or this one.
    pkgs.nodejs
    pkgs.typescript
  ];

  shellHook = ''
    # Run the backend and its dev tools (mainplatform dev, test servers) from the working tree.
    export PYTHONPATH="$PWD/backend/src:$PWD/backend/dev/src''${PYTHONPATH:+:$PYTHONPATH}"
  '';
}
