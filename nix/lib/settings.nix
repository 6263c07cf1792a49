# The platform's settings: a small attribute set, with defaults for a local
# (loopback) stack and for a production host. Every other file in nix/lib
# reads its values from here, through `mkSettings`.
let
  util = import ./util.nix;
  # The backend's own settings, declared once in backend/src/mainplatform/config.py and
  # exported here by `mainplatform settings --format json` (a test keeps it current).
  backendSettings = builtins.listToAttrs (
    map (s: {
      name = s.env;
      value = s;
    }) (builtins.fromJSON (builtins.readFile ./backend-settings.json))
  );

  modes = [
    "local"
    "production"
  ];

  defaultsFor =
    mode:
    let
      production = mode == "production";
    in
    {
      # "local": everything on loopback, plain HTTP, no ACME.
      # "production": public 80/443, HTTP redirected to HTTPS, Let's Encrypt.
      inherit mode;

      # The public host name. Requests for any other Host get a 404.
      domain = if production then null else "localhost";
      # More host names that route like `domain` (e.g. "127.0.0.1" locally).
      extraHosts = if production then [ ] else [ "127.0.0.1" ];

      # The address for the ACME account (required in production).
      acmeEmail = null;
      # The ACME directory URL; null is Let's Encrypt's production CA
      # (Traefik's default). Tests point it at pebble; staging is
      # "https://acme-staging-v02.api.letsencrypt.org/directory".
      acmeServer = null;

      # Address the public entrypoints bind to; "" means every interface.
      publicAddress = if production then "" else "127.0.0.1";
      # Address every internal service binds to.
      internalAddress = "127.0.0.1";

      ports = {
        ssh = 22;
        web = if production then 80 else 8080;
        websecure = if production then 443 else 8443;
        # Traefik's own loopback-only entrypoint for /metrics and /ping.
        traefikMetrics = 8082;
        backend = backendSettings.PORT.default;
        frontend = 8081;
        prometheus = 9090;
        grafana = 3000;
        alertmanager = 9093;
        nodeExporter = 9100;
        postgresExporter = 9187;
        redisExporter = 9121;
        # Loopback TCP ports of the databases (the host also offers Unix sockets).
        postgres = 5432;
        redis = 6379;
      };

      paths = {
        # Where mutable state lives; the other paths default to inside it.
        stateDir = if production then "/var/lib/mainplatform" else ".state";
        # The file Traefik's file provider reads (dynamic configuration). Traefik
        # wants .yml/.yaml/.toml; write JSON into a .yml file (JSON is YAML).
        traefikDynamicConfig = null;
        # Traefik's ACME account and certificates (production only).
        acmeStorage = null;
        # Traefik access log file; null means standard output.
        traefikAccessLog = null;
        # Prometheus rule files: a path, a glob, or a list of them.
        prometheusRules = [ ];
        # Directory of Grafana dashboard JSON files; null: no provider.
        grafanaDashboards = null;
      };

      exporters = {
        node = production;
        postgres = production;
        redis = production;
      };

      # Per client IP, on /api (Traefik edgeRateLimit middleware).
      edgeRateLimit = {
        average = 50;
        period = "1s";
        burst = 100;
        # How many X-Forwarded-For hops to trust; 0 uses the peer address.
        ipDepth = 0;
      };

      hsts = {
        maxAge = 31536000;
        includeSubdomains = true;
        preload = false;
      };

      # Prometheus Alertmanager on loopback: alerts by severity to e-mail and an
      # optional webhook; the Watchdog alert to a heartbeat URL (a dead man's
      # switch: the service there raises the alarm when the beats stop).
      alerting = {
        enable = production;
        email = {
          # Recipient (null: no e-mail), sender, and the SMTP server (host:port).
          to = null;
          from = null;
          smarthost = null;
          username = null;
          # A file holding the SMTP password (the module gives a credential).
          passwordFile = null;
          requireTls = true;
        };
        # Every critical and warning alert is also POSTed here (JSON) when set.
        webhookUrl = null;
        # The Watchdog alert is POSTed here every heartbeatInterval when set.
        heartbeatUrl = null;
        heartbeatInterval = "1m";
      };

      grafana = {
        # Route /grafana through Traefik (off: Grafana stays on loopback).
        routed = false;
        pathPrefix = "/grafana";
      };

      # Traefik's entryPoints.<name>.http.aliasHeadersStrategy ("delete" or
      # "reject"): drop request headers such as X_Forwarded_For that alias a
      # header Traefik manages. Needs Traefik >= 3.7.12 (older versions refuse
      # to start on the unknown key), so it is off (null) unless asked for.
      aliasHeadersStrategy = null;

      scrapeInterval = "15s";
      logLevel = "INFO";
    };

  fillPaths =
    s:
    let
      p = s.paths;
      or' = value: fallback: if value == null then fallback else value;
    in
    s
    // {
      paths = p // {
        traefikDynamicConfig = or' p.traefikDynamicConfig "${p.stateDir}/traefik/dynamic.yml";
        acmeStorage = or' p.acmeStorage "${p.stateDir}/traefik/acme.json";
        prometheusRules = util.toList p.prometheusRules;
      };
    };

  validPort = p: builtins.isInt p && p > 0 && p < 65536;

  validate =
    s:
    let
      portNames = builtins.attrNames s.ports;
      badPorts = builtins.filter (n: !(validPort s.ports.${n})) portNames;
      portValues = map (n: s.ports.${n}) portNames;
      clashes = util.duplicates portValues;
      checks = [
        {
          ok = builtins.elem s.mode modes;
          msg = "mode must be one of ${builtins.concatStringsSep ", " modes}, got ${
            toString s.mode
          }";
        }
        {
          ok = builtins.isString s.domain && s.domain != "";
          msg = "domain must be a host name";
        }
        {
          ok = builtins.isList s.extraHosts && builtins.all builtins.isString s.extraHosts;
          msg = "extraHosts must be a list of host names";
        }
        {
          ok =
            s.mode != "production"
            || (builtins.isString s.acmeEmail && builtins.match ".+@.+" s.acmeEmail != null);
          msg = "production needs acmeEmail (the Let's Encrypt account address)";
        }
        {
          ok =
            s.acmeServer == null
            || (builtins.isString s.acmeServer && builtins.match "https://.+" s.acmeServer != null);
          msg = "acmeServer must be null (Let's Encrypt) or an https:// ACME directory URL";
        }
        {
          ok =
            s.mode != "production"
            || (
              builtins.isString s.domain && builtins.match "(localhost|[0-9.]+)" s.domain == null
            );
          msg = "production needs a real domain name, got ${toString s.domain}";
        }
        {
          ok = badPorts == [ ];
          msg = "ports must be integers in 1..65535: ${builtins.concatStringsSep ", " badPorts}";
        }
        {
          ok = clashes == [ ];
          msg = "two services share a port: ${
            builtins.concatStringsSep ", " (map toString clashes)
          }";
        }
        {
          ok =
            builtins.isInt s.edgeRateLimit.average
            && s.edgeRateLimit.average > 0
            && builtins.isInt s.edgeRateLimit.burst
            && s.edgeRateLimit.burst > 0;
          msg = "edgeRateLimit.average and edgeRateLimit.burst must be positive integers";
        }
        {
          ok = builtins.elem s.aliasHeadersStrategy [
            null
            "delete"
            "reject"
          ];
          msg = "aliasHeadersStrategy must be null, \"delete\" or \"reject\"";
        }
        {
          ok =
            s.alerting.email.to == null
            || (s.alerting.email.from != null && s.alerting.email.smarthost != null);
          msg = "alerting.email needs from and smarthost (host:port) when `to` is set";
        }
        {
          ok = builtins.all builtins.isString s.paths.prometheusRules;
          msg = "paths.prometheusRules must be paths given as strings";
        }
      ];
      failed = builtins.filter (c: !c.ok) checks;
    in
    if failed == [ ] then
      s
    else
      throw "mainplatform settings: ${builtins.concatStringsSep "; " (map (c: c.msg) failed)}";
in
{
  inherit defaultsFor modes backendSettings;

  # The one entry point: defaults for the mode, your overrides on top,
  # derived paths filled in, then checked. Idempotent: passing its own result
  # back in gives the same set, so every function in nix/lib accepts either
  # raw overrides or finished settings.
  mkSettings =
    overrides:
    let
      mode = overrides.mode or "local";
      merged = util.strictMerge {
        defaults = defaultsFor mode;
        inherit overrides;
      };
    in
    validate (fillPaths merged);

  isProduction = s: s.mode == "production";

  # Every host name that routes to the platform.
  hosts = s: util.unique ([ s.domain ] ++ s.extraHosts);
}
