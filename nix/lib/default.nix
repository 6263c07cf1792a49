# The platform's wiring, as pure functions (builtins only): ports, routes,
# Traefik, Prometheus, Grafana provisioning and the frontend's nginx.conf.
#
# Every function takes a settings attribute set: raw overrides such as
# `{ mode = "production"; domain = "example.org"; acmeEmail = "ops@example.org"; }`
# or the result of `mkSettings`. Render one with, for example:
#
#   nix-instantiate --eval --strict --json \
#     -E '(import ./nix/lib).traefikStatic { mode = "local"; }'
let
  settingsLib = import ./settings.nix;
  table = import ./table.nix;
  traefik = import ./traefik.nix;
  prometheus = import ./prometheus.nix;
  grafana = import ./grafana.nix;
  nginx = import ./nginx.nix;
  alertmanager = import ./alertmanager.nix;
in
rec {
  inherit (settingsLib)
    mkSettings
    defaultsFor
    modes
    backendSettings
    ;

  # Table of services and ports, firewall ports, routes.
  inherit (table)
    services
    publicTcpPorts
    routes
    upstreams
    unroutedPaths
    ;

  traefikStatic = traefik.static;
  traefikDynamic = traefik.dynamic;

  prometheusConfig = prometheus.config;
  alertmanagerConfig = alertmanager.config;
  alertmanagerReceivers = alertmanager.receivers;

  grafanaDatasources = grafana.datasources;
  grafanaDashboardProviders = grafana.dashboardProviders;
  grafanaServer = grafana.server;
  inherit (grafana) datasourceUid;

  nginxMainConf = nginx.mainConf;
  frontendNginxConf = nginx.frontendConf;

  # Everything derived from one settings set, for callers that want it all
  # at once (the local stack renders this to JSON).
  render =
    settings:
    let
      s = mkSettings settings;
    in
    {
      settings = s;
      services = services s;
      publicTcpPorts = publicTcpPorts s;
      routes = routes s;
      upstreams = upstreams s;
      traefikStatic = traefikStatic s;
      traefikDynamic = traefikDynamic s;
      prometheus = prometheusConfig s;
      alertmanager = alertmanagerConfig s;
      grafanaDatasources = grafanaDatasources s;
      grafanaDashboardProviders = grafanaDashboardProviders s;
      grafanaServer = grafanaServer s;
    };

  # Two complete settings sets, used by the tests and as documentation.
  examples = {
    local = mkSettings { mode = "local"; };
    production = mkSettings {
      mode = "production";
      domain = "platform.example.org";
      acmeEmail = "ops@example.org";
      paths.prometheusRules = [ "/etc/mainplatform/prometheus/rules/*.yml" ];
      paths.grafanaDashboards = "/etc/mainplatform/grafana/dashboards";
    };
  };
}
