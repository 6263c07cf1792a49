# Pure helpers of the NixOS module (builtins only, like nix/lib): what the
# module derives from its options, kept out of the module files so that
# tests/modules can evaluate it with a bare `nix-instantiate`, without nixpkgs.
#
# The module files (modules/*.nix) call these functions and assign the
# results to nixpkgs options; nothing here knows about nixpkgs.
let
  platform = import ../nix/lib;
  util = import ../nix/lib/util.nix;

  # Fixed names and paths of the host. The Unix sockets are those the nixpkgs
  # modules create: PostgreSQL in /run/postgresql, and
  # services.redis.servers.<name> in /run/redis-<name>/redis.sock.
  names = rec {
    user = "mainplatform";
    group = "mainplatform";
    database = "mainplatform";
    redisServer = "mainplatform";
    redisUnit = "redis-${redisServer}";
    redisSocket = "/run/${redisUnit}/redis.sock";
    postgresSocketDir = "/run/postgresql";
    postgresExporterRole = "postgres-exporter";
    stateDir = "/var/lib/mainplatform";
    # node_exporter's textfile collector reads *.prom files here; the backup
    # service writes mainplatform_backup.prom into it.
    textfileDir = "/var/lib/prometheus-node-exporter-textfile";
    runtimeDir = "mainplatform";
    # systemd puts LoadCredential= files here for the unit `name`.
    credentialsDir = name: "/run/credentials/${name}.service";
    units = {
      backend = "mainplatform-backend";
      migrate = "mainplatform-migrate";
      backup = "mainplatform-backup";
    };
  };
in
rec {
  inherit names;

  # The platform settings on the host: production mode, the module's
  # options, then the operator's raw `settings` overrides on top (the same
  # overrides nix/lib's mkSettings takes). Validated by mkSettings.
  hostSettings =
    {
      domain,
      acmeEmail,
      acmeStorage,
      grafanaDashboards ? null,
      overrides ? { },
    }:
    let
      base = {
        mode = "production";
        inherit domain acmeEmail;
        paths = {
          stateDir = names.stateDir;
          inherit acmeStorage grafanaDashboards;
        };
      };
      # Two levels deep is all settings has (paths, ports, ...).
      merge =
        a: b:
        a
        // builtins.mapAttrs (
          name: value:
          if builtins.isAttrs value && builtins.isAttrs (a.${name} or null) then
            a.${name} // value
          else
            value
        ) b;
    in
    platform.mkSettings (merge base overrides);

  # The backend's environment (no secrets: JWT_SECRET comes from the
  # systemd credential `jwt_secret`, read by the backend from
  # $CREDENTIALS_DIRECTORY/jwt_secret).
  backendEnvironment =
    {
      settings,
      workers,
      extra ? { },
    }:
    let
      s = platform.mkSettings settings;
    in
    {
      HOST = s.internalAddress;
      PORT = toString s.ports.backend;
      WORKERS = toString workers;
      # Peer authentication over the Unix socket: no password anywhere.
      DATABASE_URL = "postgresql:///${names.database}?host=${names.postgresSocketDir}";
      REDIS_URL = "unix://${names.redisSocket}";
      # Traefik reaches the backend from loopback; only its X-Forwarded-For
      # is believed.
      TRUSTED_PROXIES = s.internalAddress;
      PUBLIC_URL = "https://${s.domain}";
      COOKIE_SECURE = "true";
      LOG_LEVEL = s.logLevel;
      # Shared by the workers; under RuntimeDirectory, so it starts empty.
      PROMETHEUS_MULTIPROC_DIR = "/run/${names.runtimeDir}/metrics";
    }
    // extra;

  # The environment of `mainplatform migrate` and `mainplatform backup`.
  databaseEnvironment = {
    DATABASE_URL = "postgresql:///${names.database}?host=${names.postgresSocketDir}";
    REDIS_URL = "unix://${names.redisSocket}";
  };

  # systemd sandboxing shared by the platform's own units (backend, migrate,
  # backup). Everything is read-only but the unit's own runtime/state paths;
  # no capabilities, no devices, IP and Unix sockets only.
  # MemoryDenyWriteExecute is left out on purpose: CPython extension modules
  # that use libffi callbacks (ctypes, cffi) need writable+executable pages.
  hardening = {
    ProtectSystem = "strict";
    ProtectHome = true;
    PrivateTmp = true;
    PrivateDevices = true;
    PrivateMounts = true;
    DevicePolicy = "closed";
    NoNewPrivileges = true;
    CapabilityBoundingSet = "";
    AmbientCapabilities = "";
    RestrictAddressFamilies = [
      "AF_INET"
      "AF_INET6"
      "AF_UNIX"
    ];
    RestrictNamespaces = true;
    RestrictRealtime = true;
    RestrictSUIDSGID = true;
    LockPersonality = true;
    ProtectClock = true;
    ProtectHostname = true;
    ProtectKernelLogs = true;
    ProtectKernelModules = true;
    ProtectKernelTunables = true;
    ProtectControlGroups = true;
    ProtectProc = "invisible";
    ProcSubset = "pid";
    RemoveIPC = true;
    SystemCallArchitectures = "native";
    SystemCallFilter = [
      "@system-service"
      "~@privileged"
      "~@resources"
    ];
    SystemCallErrorNumber = "EPERM";
    UMask = "0077";
  };

  # TCP ports the host firewall opens: exactly nix/lib's publicTcpPorts
  # (SSH, HTTP, HTTPS in production).
  firewallTcpPorts = settings: platform.publicTcpPorts settings;

  # Every internal listener must be on loopback; the module asserts it.
  nonLoopbackInternal =
    settings:
    map (svc: svc.name) (
      builtins.filter (svc: !svc.public && svc.address != "127.0.0.1" && svc.address != "::1") (
        platform.services settings
      )
    );

  # Traefik's static configuration for services.traefik.static.settings:
  # nix/lib's, without `providers` (the nixpkgs module adds the file
  # provider for services.traefik.dynamic.dir itself), and without ACME when
  # `acme` is false (then `certificateFile`/`keyFile` are served instead,
  # see traefikDynamic).
  traefikStatic =
    {
      settings,
      acme ? true,
    }:
    let
      full = platform.traefikStatic settings;
      noProviders = builtins.removeAttrs full [ "providers" ];
      stripResolver =
        ep:
        if ep ? http && ep.http ? tls then
          ep
          // {
            http = ep.http // {
              tls = builtins.removeAttrs ep.http.tls [ "certResolver" ];
            };
          }
        else
          ep;
    in
    if acme then
      noProviders
    else
      builtins.removeAttrs noProviders [ "certificatesResolvers" ]
      // {
        entryPoints = builtins.mapAttrs (_: stripResolver) noProviders.entryPoints;
      };

  # Traefik's dynamic configuration (routers, services, middlewares, TLS
  # options), for services.traefik.dynamic.files.<name>.settings. Without
  # ACME the routers keep TLS but name no resolver, and the given
  # certificate becomes the default one (paths as Traefik sees them).
  traefikDynamic =
    {
      settings,
      acme ? true,
      certificateFile ? null,
      keyFile ? null,
    }:
    let
      full = platform.traefikDynamic settings;
      plainTls =
        router:
        router
        // util.optionalAttrs (router ? tls) {
          tls = builtins.removeAttrs router.tls [ "certResolver" ];
        };
      certificate = {
        certFile = certificateFile;
        inherit keyFile;
      };
    in
    if acme then
      full
    else if certificateFile == null || keyFile == null then
      throw "mainplatform: without ACME, Traefik needs a certificate and a key"
    else
      full
      // {
        http = full.http // {
          routers = builtins.mapAttrs (_: plainTls) full.http.routers;
        };
        tls = (full.tls or { }) // {
          certificates = [ certificate ];
          stores.default.defaultCertificate = certificate;
        };
      };

  # nix/lib's Prometheus configuration mapped onto services.prometheus
  # options (globalConfig, scrapeConfigs); rule files are given separately
  # as store paths (services.prometheus.ruleFiles).
  prometheusOptions =
    settings:
    let
      config = platform.prometheusConfig settings;
      scrape =
        job:
        {
          inherit (job) job_name static_configs;
        }
        // util.optionalAttrs (job ? metrics_path) { inherit (job) metrics_path; };
    in
    {
      globalConfig = {
        inherit (config.global) scrape_interval evaluation_interval external_labels;
      };
      scrapeConfigs = map scrape config.scrape_configs;
    };

  # Grafana: the [server] section and provisioning from nix/lib.
  grafanaServer = settings: platform.grafanaServer settings;
  grafanaDatasources = settings: platform.grafanaDatasources settings;
  grafanaDashboardProviders = settings: platform.grafanaDashboardProviders settings;
  inherit (platform) datasourceUid;

  # `mainplatform backup` as the backup unit runs it.
  backupCommand =
    {
      program,
      dir,
      keepDays,
    }:
    builtins.concatStringsSep " " [
      program
      "backup"
      "--dir ${dir}"
      "--keep-days ${toString keepDays}"
      "--textfile-dir ${names.textfileDir}"
    ];

  # A secret's path must name a file outside the Nix store (which every
  # user can read), as an absolute path given as a string.
  isExternalPath =
    path:
    builtins.isString path
    && builtins.substring 0 1 path == "/"
    && builtins.substring 0 (builtins.stringLength builtins.storeDir + 1) path
      != "${builtins.storeDir}/";
}
