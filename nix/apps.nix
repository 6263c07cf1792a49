# `nix run .#dev`: the whole platform on loopback (the same code as
# `mainplatform dev`), with every program it starts taken from nixpkgs.
# `nix run` (default): the backend's CLI.
{
  pkgs,
  packages,
}:

let
  dev = pkgs.writeShellApplication {
    name = "mainplatform-dev";
    runtimeInputs = [
      packages.dev
      pkgs.nix # nix-instantiate renders nix/lib for the local stack
      pkgs.postgresql_16
      pkgs.redis
      pkgs.nginx
      pkgs.traefik
      pkgs.prometheus
      pkgs.prometheus-node-exporter
      pkgs.prometheus-postgres-exporter
      pkgs.prometheus-redis-exporter
      pkgs.grafana
    ];
    # Run from the project checkout: it serves frontend/ and renders nix/lib from there.
    text = ''
      exec ${packages.dev}/bin/mainplatform-dev "$@"
    '';
  };
in
{
  deploy = {
    type = "app";
    program = "${packages.deploy}/bin/mainplatform-deploy";
    meta.description = "Deploy .#oci to a host, wait until it is healthy, roll back if it is not";
  };
  dev = {
    type = "app";
    program = "${dev}/bin/mainplatform-dev";
    meta.description = "Main Platform on loopback: PostgreSQL, Redis, API, nginx, Traefik, Prometheus, Grafana";
  };
  default = {
    type = "app";
    program = "${packages.backend}/bin/mainplatform";
    meta.description = "The mainplatform CLI (serve, migrate, create-admin, backup, check-config)";
  };
}
