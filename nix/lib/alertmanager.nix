# Prometheus Alertmanager's configuration (alertmanager.yml as an attribute
# set) from settings.alerting. One host, so:
# - alerts are grouped by name and severity (there is one instance of each);
# - critical: e-mail and webhook within 10 s, repeated hourly while firing;
#   warning: after 1 min, repeated every 12 h;
# - a critical alert silences the warnings about the same component (a down
#   PostgreSQL explains the failed restore drill and the stale backup);
# - the Watchdog alert (always firing) goes only to the heartbeat URL, every
#   heartbeatInterval, so that a dead host is noticed from outside.
# The mail names the alert, its summary, description and runbook.
#
#   nix-instantiate --eval --strict --json -E \
#     '(import ./nix/lib).alertmanagerConfig { mode = "local"; alerting.enable = true; }'
let
  util = import ./util.nix;
  settingsLib = import ./settings.nix;
  inherit (settingsLib) mkSettings;

  # The body of every alert mail: one block per alert of the group.
  mailText = ''
    {{ range .Alerts }}{{ .Labels.alertname }} [{{ .Labels.severity }}] {{ .Status }}
    {{ .Annotations.summary }}

    {{ .Annotations.description }}

    Runbook: {{ .Annotations.runbook }}
    Since: {{ .StartsAt }}
    Labels: {{ range .Labels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}

    {{ end }}'';
  mailSubject = "[{{ .Status | toUpper }}] {{ .GroupLabels.alertname }} ({{ .GroupLabels.severity }}) on {{ .CommonLabels.platform }}";
in
{
  # Receiver names, for tests and the module.
  receivers = {
    none = "none";
    heartbeat = "heartbeat";
    critical = "critical";
    warning = "warning";
  };

  config =
    settings:
    let
      s = mkSettings settings;
      a = s.alerting;
      e = a.email;
      mail = e.to != null;
      people = name: {
        inherit name;
        email_configs = util.optionals mail [
          {
            inherit (e) to;
            send_resolved = true;
            headers.Subject = mailSubject;
            text = mailText;
          }
        ];
        webhook_configs = util.optionals (a.webhookUrl != null) [
          {
            url = a.webhookUrl;
            send_resolved = true;
          }
        ];
      };
    in
    {
      global =
        {
          resolve_timeout = "5m";
        }
        // util.optionalAttrs mail {
          smtp_smarthost = e.smarthost;
          smtp_from = e.from;
          smtp_require_tls = e.requireTls;
          smtp_hello = s.domain;
        }
        // util.optionalAttrs (mail && e.username != null) { smtp_auth_username = e.username; }
        // util.optionalAttrs (mail && e.passwordFile != null) {
          smtp_auth_password_file = e.passwordFile;
        };

      route = {
        receiver = "none";
        group_by = [
          "alertname"
          "severity"
        ];
        group_wait = "30s";
        group_interval = "5m";
        repeat_interval = "12h";
        routes = [
          {
            receiver = if a.heartbeatUrl != null then "heartbeat" else "none";
            matchers = [ ''alertname="Watchdog"'' ];
            group_wait = "0s";
            group_interval = a.heartbeatInterval;
            repeat_interval = a.heartbeatInterval;
          }
          {
            receiver = "critical";
            matchers = [ ''severity="critical"'' ];
            group_wait = "10s";
            group_interval = "1m";
            repeat_interval = "1h";
          }
          {
            receiver = "warning";
            matchers = [ ''severity="warning"'' ];
            group_wait = "1m";
            group_interval = "5m";
            repeat_interval = "12h";
          }
        ];
      };

      inhibit_rules = [
        {
          source_matchers = [ ''severity="critical"'' ];
          target_matchers = [ ''severity="warning"'' ];
          equal = [ "component" ];
        }
      ];

      receivers = [
        { name = "none"; }
        (people "critical")
        (people "warning")
      ]
      ++ util.optionals (a.heartbeatUrl != null) [
        {
          name = "heartbeat";
          webhook_configs = [
            {
              url = a.heartbeatUrl;
              send_resolved = false;
            }
          ];
        }
      ];
    };
}
