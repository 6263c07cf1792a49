# Prometheus (scrape targets and global settings from nix/lib, alert rules
# from nix/observability/alerts.yml), the node, PostgreSQL and Redis
# exporters, Alertmanager (nixpkgs' services.prometheus.alertmanager, its
# configuration from nix/lib/alertmanager.nix), and Grafana with its
# datasource and dashboards provisioned.
# Everything listens on loopback; reach Grafana through an SSH tunnel
# (ssh -L 3000:127.0.0.1:3000 host) unless settings.grafana.routed is set.
{
  config,
  lib,
  ...
}:

let
  cfg = config.services.mainplatform;
  mp = import ./lib.nix { inherit lib; };
  inherit (mp) names;
  s = cfg.finalSettings;
  prom = mp.prometheusOptions s;

  alertRules = ../nix/observability/alerts.yml;
  credentials = names.credentialsDir "grafana";
in
{
  config = lib.mkIf cfg.enable {
    services.prometheus = {
      enable = true;
      listenAddress = s.internalAddress;
      port = s.ports.prometheus;
      inherit (prom) globalConfig scrapeConfigs alertmanagers;
      ruleFiles = [ alertRules ];
      retentionTime = lib.mkDefault "30d";

      alertmanager = lib.mkIf s.alerting.enable {
        enable = true;
        listenAddress = s.internalAddress;
        port = s.ports.alertmanager;
        configuration = mp.alertmanagerConfig s;
        # One host: no gossip (it would listen on every interface, port 9094).
        extraFlags = [ "--cluster.listen-address=" ];
      };

      exporters = {
        node = lib.mkIf s.exporters.node {
          enable = true;
          listenAddress = s.internalAddress;
          port = s.ports.nodeExporter;
          enabledCollectors = [ "systemd" ];
          # The backup unit writes mainplatform_backup.prom here.
          extraFlags = [ "--collector.textfile.directory=${names.textfileDir}" ];
        };

        postgres = lib.mkIf s.exporters.postgres {
          enable = true;
          listenAddress = s.internalAddress;
          port = s.ports.postgresExporter;
          # Peer authentication as the role of the same name (pg_monitor).
          dataSourceName = "user=${names.postgresExporterRole} database=postgres host=${names.postgresSocketDir} sslmode=disable";
        };

        redis = lib.mkIf s.exporters.redis {
          enable = true;
          listenAddress = s.internalAddress;
          port = s.ports.redisExporter;
          extraFlags = [ "-redis.addr=unix://${names.redisSocket}" ];
        };
      };
    };

    # The textfile directory: written by the backup units, pgBackRest's jobs
    # and the restore drill (members of textfileGroup), read by node_exporter.
    systemd.tmpfiles.settings."10-mainplatform-textfile".${names.textfileDir}.d = {
      user = names.user;
      group = names.textfileGroup;
      mode = "0775";
    };
    users.groups.${names.textfileGroup} = { };

    # The SMTP password, read by Alertmanager from its credentials directory.
    systemd.services.alertmanager = lib.mkIf (s.alerting.enable && cfg.alerting.email.passwordFile != null) {
      serviceConfig.LoadCredential = [ "smtp_password:${cfg.alerting.email.passwordFile}" ];
    };

    # The Redis exporter runs with a dynamic user; the socket is group-only (the server's group).
    systemd.services.prometheus-redis-exporter = lib.mkIf s.exporters.redis {
      after = [ "${names.redisUnit}.service" ];
      serviceConfig.SupplementaryGroups = [
        config.services.redis.servers.${names.redisServer}.group
      ];
    };
    systemd.services.prometheus-postgres-exporter = lib.mkIf s.exporters.postgres {
      after = [ "postgresql.target" ];
    };

    services.grafana = {
      enable = true;
      settings = {
        server = mp.grafanaServer s;
        security = {
          admin_user = "admin";
          # Grafana reads these files itself ($__file{}); they are the
          # systemd credentials below, so the sources can be root-only.
          admin_password = "$__file{${credentials}/admin_password}";
          secret_key = "$__file{${credentials}/secret_key}";
          cookie_secure = s.grafana.routed;
          disable_gravatar = true;
        };
        "auth.anonymous".enabled = false;
        users.allow_sign_up = false;
        analytics = {
          reporting_enabled = false;
          check_for_updates = false;
        };
      };
      provision = {
        enable = true;
        datasources.settings = mp.grafanaDatasources s;
        dashboards.settings = mp.grafanaDashboardProviders s;
      };
    };

    systemd.services.grafana = {
      after = [ "prometheus.service" ];
      serviceConfig.LoadCredential = [
        "admin_password:${cfg.grafana.adminPasswordFile}"
        "secret_key:${cfg.grafana.secretKeyFile}"
      ];
    };
  };
}
