# What the module files derive from nix/lib and their options: fixed names
# and paths of the host, the backend's environment, the sandboxing of the
# platform's own units, and nix/lib's Traefik and Prometheus configuration
# shaped for the nixpkgs options that take them. A function of nixpkgs' lib,
# imported by every file of modules/ as `import ./lib.nix { inherit lib; }`.
{ lib }:

let
  platform = import ../nix/lib;

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
      backup = "mainplatform-backup";
      secrets = "mainplatform-secrets";
      restoreDrill = "mainplatform-restore-drill";
      offsite = "mainplatform-offsite";
      walSwitch = "mainplatform-wal-switch";
    };
    # Owns textfileDir with write access for every unit that exports metrics
    # there (the backup units, pgBackRest's jobs, the restore drill).
    textfileGroup = "mainplatform-textfile";
    # nixpkgs' services.pgbackrest sets up this stanza for the local PostgreSQL.
    stanza = "default";
    # Where the module creates the secrets nobody provided (first boot).
    secretsDir = "/var/lib/mainplatform-secrets";
  };

  # The database addresses every platform process uses (no secrets).
  databaseEnvironment = {
    DATABASE_URL = "postgresql:///${names.database}?host=${names.postgresSocketDir}";
    REDIS_URL = "unix://${names.redisSocket}";
  };

  resolverless = tls: removeAttrs tls [ "certResolver" ];

  # The backend settings an operator sets on a host (declared once in
  # backend/src/mainplatform/config.py, exported to nix/lib/backend-settings.json).
  operatorSettings = lib.filterAttrs (_: s: s.owner == "operator") platform.backendSettings;

  settingType =
    s:
    let
      base =
        if s.choices != null then
          lib.types.enum s.choices
        else if s.kind == "int" then
          (if s.minimum != null then lib.types.ints.between s.minimum 2147483647 else lib.types.int)
        else if s.kind == "bool" then
          lib.types.bool
        else if s.kind == "rateLimit" then
          lib.types.strMatching "[0-9]+ */ *[0-9]*[.]?[0-9]* *[a-z]*"
        else if s.kind == "list" || s.kind == "networks" then
          lib.types.listOf (if s.pattern != null then lib.types.strMatching s.pattern else lib.types.str)
        else if s.pattern != null then
          lib.types.strMatching s.pattern
        else
          lib.types.str;
    in
    if s.default == null then lib.types.nullOr base else base;

  # How the backend reads each kind of value from its environment.
  settingText =
    s: value:
    if builtins.isBool value then
      lib.boolToString value
    else if builtins.isList value then
      lib.concatStringsSep "," value
    else
      toString value;
  # Those settings as the backend's environment (unset ones left out).
  backendSettingsEnvironment =
    values:
    lib.mapAttrs (name: v: settingText operatorSettings.${name} v) (
      lib.filterAttrs (_: v: v != null) values
    );

in
{
  inherit names databaseEnvironment;

  # One typed option per operator setting of the backend, its default the
  # declared one: services.mainplatform.backend.settings.<VARIABLE>.
  backendSettingOptions = lib.mapAttrs (
    name: s:
    lib.mkOption {
      type = settingType s;
      inherit (s) default;
      description = "`${name}`: ${s.doc}.";
    }
  ) operatorSettings;

  # The shell script of the first-boot secrets unit: each of `secrets`
  # ({ path, bytes, encoding = "base64" | "hex" }) that does not exist yet is
  # written from the kernel's CSPRNG (/dev/urandom), mode 0400, in a 0700
  # directory; an existing file is never touched. Runs with coreutils on PATH.
  secretsScript =
    secrets:
    ''
      set -eu
      umask 0077
      create() { # path bytes encoding
        if [ -e "$1" ]; then return 0; fi
        mkdir -p -m 0700 "$(dirname "$1")"
        if [ "$3" = hex ]; then
          head -c "$2" /dev/urandom | od -An -v -tx1 | tr -d ' \n' > "$1.new"
        else
          head -c "$2" /dev/urandom | base64 -w0 > "$1.new"
        fi
        chmod 0400 "$1.new"
        mv "$1.new" "$1"
        echo "created $1"
      }
    ''
    + lib.concatMapStrings (
      s: "create ${lib.escapeShellArg s.path} ${toString s.bytes} ${s.encoding}\n"
    ) secrets;

  # The units behind databaseEnvironment: PostgreSQL (ensureDatabases and
  # ensureUsers done) and the platform's Redis server.
  databaseUnits = [
    "postgresql.target"
    "${names.redisUnit}.service"
  ];

  # nix/lib's defaults for a production host: the defaults of the module's
  # `settings` options, so each value is written once (in nix/lib).
  productionDefaults = platform.defaultsFor "production";

  # The platform settings on the host: production mode, the module's
  # options, validated by nix/lib's mkSettings.
  hostSettings =
    {
      domain,
      acmeEmail,
      acmeServer ? null, # nix/lib: Let's Encrypt
      acmeStorage,
      grafanaDashboards,
      settings,
    }:
    platform.mkSettings (
      lib.recursiveUpdate settings {
        mode = "production";
        inherit domain acmeEmail acmeServer;
        paths = {
          stateDir = names.stateDir;
          inherit acmeStorage grafanaDashboards;
        };
      }
    );

  # The backend's environment. JWT_SECRET is not in it: the backend reads
  # the systemd credential $CREDENTIALS_DIRECTORY/jwt_secret.
  backendEnvironment =
    {
      settings,
      workers,
      backend ? { },
    }:
    databaseEnvironment
    // backendSettingsEnvironment (removeAttrs backend [ "TRUSTED_PROXIES" ])
    // {
      HOST = settings.internalAddress;
      PORT = toString settings.ports.backend;
      WORKERS = toString workers;
      # Traefik reaches the backend from loopback: its X-Forwarded-For is
      # always believed, and that of the proxies the operator adds.
      TRUSTED_PROXIES = lib.concatStringsSep "," (
        [ settings.internalAddress ] ++ (backend.TRUSTED_PROXIES or [ ])
      );
      PUBLIC_URL = "https://${settings.domain}";
      COOKIE_SECURE = "true";
      # One log level for the backend and Traefik; Python spells WARN "WARNING".
      LOG_LEVEL = if settings.logLevel == "WARN" then "WARNING" else settings.logLevel;
      # Shared by the workers; under RuntimeDirectory, so it starts empty.
      PROMETHEUS_MULTIPROC_DIR = "/run/${names.runtimeDir}/metrics";
    };

  # systemd sandboxing shared by the platform's own units (backend, backup).
  # Everything is read-only but the unit's own runtime/state paths; no
  # capabilities, no devices, IP and Unix sockets only.
  # - MemoryDenyWriteExecute is left out: CPython extension modules that use
  #   libffi callbacks (ctypes, cffi) need writable+executable pages.
  # - ProcSubset=pid is left out: it hides /proc/stat, from which
  #   prometheus-client reads the boot time for process_start_time_seconds
  #   (the process collector then reports nothing, silently).
  #   ProtectProc=invisible still hides other users' processes.
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

  # The TCP ports of the platform's own public listeners (HTTP, HTTPS):
  # nix/lib's publicTcpPorts without SSH, which is the host's (see
  # modules/host-policy.nix).
  webTcpPorts =
    settings: lib.subtractLists [ settings.ports.ssh ] (platform.publicTcpPorts settings);

  # Every internal listener must be on loopback; the module asserts it.
  nonLoopbackInternal =
    settings:
    map (svc: svc.name) (
      lib.filter (
        svc:
        !svc.public
        && !(lib.elem svc.address [
          "127.0.0.1"
          "::1"
        ])
      ) (platform.services settings)
    );

  # Traefik's static configuration for services.traefik.staticConfigOptions:
  # nix/lib's, without `providers` (the nixpkgs module sets
  # providers.file.filename to the file it writes from
  # dynamicConfigOptions), and without ACME when `acme` is false (then the
  # given certificate is served instead, see traefikDynamic).
  traefikStatic =
    {
      settings,
      acme,
    }:
    let
      full = removeAttrs (platform.traefikStatic settings) [ "providers" ];
      plainEntryPoint =
        ep:
        if ep ? http.tls then
          ep // { http = ep.http // { tls = resolverless ep.http.tls; }; }
        else
          ep;
    in
    if acme then
      full
    else
      removeAttrs full [ "certificatesResolvers" ]
      // {
        entryPoints = lib.mapAttrs (_: plainEntryPoint) full.entryPoints;
      };

  # Traefik's dynamic configuration (routers, services, middlewares, TLS
  # options) for services.traefik.dynamicConfigOptions. Without ACME the
  # routers keep TLS but name no resolver, and the certificate at the given
  # paths (as Traefik sees them) becomes the default one.
  traefikDynamic =
    {
      settings,
      certificate ? null,
    }:
    let
      full = platform.traefikDynamic settings;
      plainRouter =
        router: router // lib.optionalAttrs (router ? tls) { tls = resolverless router.tls; };
    in
    if certificate == null then
      full
    else
      full
      // {
        http = full.http // {
          routers = lib.mapAttrs (_: plainRouter) full.http.routers;
        };
        tls = (full.tls or { }) // {
          certificates = [ certificate ];
          stores.default.defaultCertificate = certificate;
        };
      };

  # nix/lib's Prometheus configuration mapped onto services.prometheus
  # options (globalConfig, scrapeConfigs); rule files are given separately
  # (services.prometheus.ruleFiles).
  prometheusOptions =
    settings:
    let
      config = platform.prometheusConfig settings;
    in
    {
      globalConfig = {
        inherit (config.global) scrape_interval evaluation_interval external_labels;
      };
      inherit (config.alerting) alertmanagers;
      scrapeConfigs = map (
        job:
        lib.filterAttrs (
          name: _:
          lib.elem name [
            "job_name"
            "static_configs"
            "metrics_path"
          ]
        ) job
      ) config.scrape_configs;
    };

  inherit (platform)
    grafanaServer
    grafanaDatasources
    grafanaDashboardProviders
    datasourceUid
    ;

  # settings.alerting (nix/lib) from the module's `alerting` options: the SMTP
  # password is Alertmanager's credential, read by Alertmanager itself.
  alertingSettings = a: {
    inherit (a)
      enable
      webhookUrl
      heartbeatUrl
      heartbeatInterval
      ;
    email = {
      inherit (a.email)
        to
        from
        smarthost
        username
        requireTls
        ;
      passwordFile =
        if a.email.passwordFile == null then
          null
        else
          "${names.credentialsDir "alertmanager"}/smtp_password";
    };
  };

  alertmanagerConfig = platform.alertmanagerConfig;

  # pgBackRest's repository for services.pgbackrest.repos (one, repo1). The
  # attribute name is the host for sftp and "localhost" (no host) otherwise;
  # secrets are not here: see pgbackrestSecrets.
  pgbackrestRepos =
    pitr:
    let
      r = pitr.repository;
      common = {
        inherit (r) path;
        retention-full = pitr.retention.full;
        retention-diff = pitr.retention.diff;
      }
      // lib.optionalAttrs (r.cipherPassFile != null) { cipher-type = "aes-256-cbc"; };
      repo =
        if r.type == "s3" then
          {
            localhost = common // {
              type = "s3";
              s3-bucket = r.bucket;
              s3-endpoint = r.endpoint;
              s3-region = r.region;
              s3-uri-style = r.uriStyle;
            };
          }
        else if r.type == "sftp" then
          {
            ${if r.host == null then "localhost" else r.host} = common // {
              type = "sftp";
              sftp-host-user = r.sftpUser;
              sftp-private-key-file = r.sftpPrivateKeyFile;
              sftp-host-key-hash-type = "sha1";
              sftp-host-fingerprint = r.sftpHostFingerprint;
            };
          }
        else
          { localhost = common; };
    in
    # the nixpkgs module's types have no null: unset options are left out
    lib.mapAttrs (_: lib.filterAttrs (_: v: v != null)) repo;

  # The repository's secrets: credential name, source file, and the variable
  # pgBackRest reads it from (PGBACKREST_REPO1_*), for the units that run it.
  pgbackrestSecrets =
    r:
    lib.filter (c: c.file != null) [
      {
        name = "s3_key";
        file = r.keyFile;
        variable = "PGBACKREST_REPO1_S3_KEY";
      }
      {
        name = "s3_key_secret";
        file = r.keySecretFile;
        variable = "PGBACKREST_REPO1_S3_KEY_SECRET";
      }
      {
        name = "cipher_pass";
        file = r.cipherPassFile;
        variable = "PGBACKREST_REPO1_CIPHER_PASS";
      }
    ];

  # The body of a `pgbackrest` wrapper: the secrets, when the unit has them
  # as credentials, into pgBackRest's variables, then the real program.
  pgbackrestWrapper =
    {
      program,
      secrets,
    }:
    ''
      set -eu
      dir="''${CREDENTIALS_DIRECTORY:-}"
    ''
    + lib.concatMapStrings (c: ''
      if [ -n "$dir" ] && [ -r "$dir/${c.name}" ]; then
        ${c.variable}="$(cat "$dir/${c.name}")"
        export ${c.variable}
      fi
    '') secrets
    + ''
      exec ${program} "$@"
    '';

  # `mainplatform backup` as the backup unit runs it.
  backupCommand =
    {
      program,
      dir,
      keepDays,
    }:
    lib.escapeShellArgs [
      program
      "backup"
      "--dir"
      dir
      "--keep-days"
      (toString keepDays)
      "--textfile-dir"
      names.textfileDir
    ];
}
