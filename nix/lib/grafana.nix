# Grafana provisioning: the Prometheus datasource (with a fixed uid, so the
# dashboards can reference it) and a file provider for the dashboards.
let
  util = import ./util.nix;
  settingsLib = import ./settings.nix;
  inherit (settingsLib) mkSettings;
in
rec {
  datasourceUid = "prometheus";

  datasources =
    settings:
    let
      s = mkSettings settings;
    in
    {
      apiVersion = 1;
      datasources = [
        {
          name = "Prometheus";
          uid = datasourceUid;
          type = "prometheus";
          access = "proxy";
          url = "http://${util.hostPort s.internalAddress s.ports.prometheus}";
          isDefault = true;
          editable = false;
          jsonData.timeInterval = s.scrapeInterval;
        }
      ];
    };

  dashboardProviders =
    settings:
    let
      s = mkSettings settings;
    in
    {
      apiVersion = 1;
      providers = util.optionals (s.paths.grafanaDashboards != null) [
        {
          name = "mainplatform";
          folder = "Main Platform";
          type = "file";
          disableDeletion = true;
          allowUiUpdates = false;
          updateIntervalSeconds = 30;
          options.path = s.paths.grafanaDashboards;
        }
      ];
    };

  # The [server] section of grafana.ini: loopback only, and served under
  # the /grafana prefix when Traefik routes it.
  server =
    settings:
    let
      s = mkSettings settings;
      scheme = if settingsLib.isProduction s then "https" else "http";
    in
    {
      http_addr = s.internalAddress;
      http_port = s.ports.grafana;
      domain = s.domain;
    }
    // util.optionalAttrs s.grafana.routed {
      root_url = "${scheme}://${s.domain}${s.grafana.pathPrefix}/";
      serve_from_sub_path = true;
    };
}
