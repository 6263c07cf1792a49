# Prometheus configuration: scrape the backend, Traefik, Prometheus itself and
# the exporters that are enabled; load the alert rules from the path(s) given
# in settings.
let
  util = import ./util.nix;
  settingsLib = import ./settings.nix;
  inherit (settingsLib) mkSettings;
in
{
  config =
    settings:
    let
      s = mkSettings settings;
      at = port: util.hostPort s.internalAddress port;
      job = name: port: extra: {
        job_name = name;
        static_configs = [ { targets = [ (at port) ]; } ];
      }
      // extra;
    in
    {
      global = {
        scrape_interval = s.scrapeInterval;
        evaluation_interval = s.scrapeInterval;
        external_labels = {
          platform = "mainplatform";
          environment = s.mode;
        };
      };

      rule_files = s.paths.prometheusRules;

      # Alerts go to the Alertmanager on loopback (nix/lib/alertmanager.nix).
      alerting.alertmanagers = util.optionals s.alerting.enable [
        { static_configs = [ { targets = [ (at s.ports.alertmanager) ]; } ]; }
      ];

      scrape_configs = [
        (job "backend" s.ports.backend { metrics_path = "/metrics"; })
        (job "traefik" s.ports.traefikMetrics { metrics_path = "/metrics"; })
        (job "prometheus" s.ports.prometheus { metrics_path = "/metrics"; })
      ]
      ++ util.optionals s.exporters.node [ (job "node" s.ports.nodeExporter { }) ]
      ++ util.optionals s.exporters.postgres [ (job "postgres" s.ports.postgresExporter { }) ]
      ++ util.optionals s.exporters.redis [ (job "redis" s.ports.redisExporter { }) ];
    };
}
