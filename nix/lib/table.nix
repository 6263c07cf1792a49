# The table of services, ports and routes: what listens where, what is public,
# and which URL paths Traefik sends where. Traefik's dynamic configuration,
# Prometheus' scrape targets and the NixOS firewall are all derived from it.
let
  util = import ./util.nix;
  settingsLib = import ./settings.nix;
  inherit (settingsLib) mkSettings isProduction hosts;

  hostRule =
    s: "(" + builtins.concatStringsSep " || " (map (h: "Host(`${h}`)") (hosts s)) + ")";
in
rec {
  # Every listening socket of the platform.
  services =
    settings:
    let
      s = mkSettings settings;
      prod = isProduction s;
      internal = name: port: description: {
        inherit name port description;
        address = s.internalAddress;
        public = false;
      };
    in
    [
      {
        name = "traefik-web";
        address = s.publicAddress;
        port = s.ports.web;
        public = prod;
        description =
          if prod then
            "HTTP: ACME challenges, everything else redirected to HTTPS"
          else
            "HTTP entrypoint";
      }
    ]
    ++ util.optionals prod [
      {
        name = "traefik-websecure";
        address = s.publicAddress;
        port = s.ports.websecure;
        public = true;
        description = "HTTPS entrypoint";
      }
    ]
    ++ [
      (internal "traefik-metrics" s.ports.traefikMetrics "Traefik /metrics and /ping")
      (internal "backend" s.ports.backend "Starlette API under /api (and /metrics)")
      (internal "frontend" s.ports.frontend "nginx serving the static frontend")
      (internal "prometheus" s.ports.prometheus "Prometheus")
      (internal "grafana" s.ports.grafana "Grafana")
    ]
    ++ util.optionals s.alerting.enable [
      (internal "alertmanager" s.ports.alertmanager "Prometheus Alertmanager")
    ]
    ++ util.optionals s.exporters.node [
      (internal "node-exporter" s.ports.nodeExporter "host metrics")
    ]
    ++ util.optionals s.exporters.postgres [
      (internal "postgres-exporter" s.ports.postgresExporter "PostgreSQL metrics")
    ]
    ++ util.optionals s.exporters.redis [
      (internal "redis-exporter" s.ports.redisExporter "Redis metrics")
    ];

  # TCP ports to open in the host firewall: SSH, HTTP and HTTPS in
  # production; nothing locally (all of it is on loopback).
  publicTcpPorts =
    settings:
    let
      s = mkSettings settings;
    in
    if isProduction s then
      [
        s.ports.ssh
        s.ports.web
        s.ports.websecure
      ]
    else
      [ ];

  # Paths that must never be served through the proxy.
  unroutedPaths = [ "/metrics" ];

  # Traefik routers, in the order of precedence (highest priority first).
  # /api keeps its prefix: the backend serves under /api.
  routes =
    settings:
    let
      s = mkSettings settings;
      hr = hostRule s;
      notUnrouted = builtins.concatStringsSep " && " (map (p: "!PathPrefix(`${p}`)") unroutedPaths);
    in
    [
      {
        name = "api";
        rule = "${hr} && PathPrefix(`/api`)";
        service = "backend";
        middlewares = [
          "security-headers"
          "api-ratelimit"
        ];
        priority = 300;
      }
    ]
    ++ util.optionals s.grafana.routed [
      {
        name = "grafana";
        rule = "${hr} && PathPrefix(`${s.grafana.pathPrefix}`)";
        service = "grafana";
        middlewares = [ "security-headers" ];
        priority = 200;
      }
    ]
    ++ [
      {
        name = "frontend";
        rule = "${hr} && PathPrefix(`/`) && ${notUnrouted}";
        service = "frontend";
        middlewares = [ "security-headers" ];
        priority = 100;
      }
    ];

  # Upstream URL of each Traefik service.
  upstreams =
    settings:
    let
      s = mkSettings settings;
      url = port: "http://${util.hostPort s.internalAddress port}";
    in
    {
      backend = url s.ports.backend;
      frontend = url s.ports.frontend;
    }
    // util.optionalAttrs s.grafana.routed { grafana = url s.ports.grafana; };
}
