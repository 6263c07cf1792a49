# The Main Platform NixOS module: the whole platform of one host (Traefik,
# the backend, the frontend's nginx, PostgreSQL, Redis, Prometheus with its
# exporters, Grafana, backups, the firewall ports of the web entrypoints)
# behind one option namespace, `services.mainplatform`. One file per concern,
# like nix-community/srvos and selfhostblocks; the wiring (ports, routes,
# Traefik, Prometheus, Grafana provisioning) comes from nix/lib through
# modules/lib.nix, so the host and the local stack cannot drift apart.
#
# Host policy (SSH, fail2ban, kernel and Nix settings) is not here: it is the
# mixin modules/host-policy.nix, which a host opts into.
#
#   imports = [ mainplatform.nixosModules.default ];
#   services.mainplatform = {
#     enable = true;
#     domain = "platform.example.org";
#     acmeEmail = "ops@example.org";
#     secrets.jwtSecretFile = "/run/keys/mainplatform-jwt-secret";
#     grafana.adminPasswordFile = "/run/keys/grafana-admin-password";
#     grafana.secretKeyFile = "/run/keys/grafana-secret-key";
#   };
{
  config,
  lib,
  pkgs,
  ...
}:

let
  cfg = config.services.mainplatform;
  mp = import ./lib.nix { inherit lib; };
  inherit (lib)
    mkOption
    mkEnableOption
    mkPackageOption
    literalExpression
    types
    ;
  defaults = mp.productionDefaults;
  notOnLoopback = mp.nonLoopbackInternal cfg.finalSettings;

  secretPath =
    name: description:
    mkOption {
      type = types.externalPath;
      default = "${mp.names.secretsDir}/${name}";
      defaultText = literalExpression ''"${mp.names.secretsDir}/${name}"'';
      example = "/run/secrets/mainplatform/${name}";
      description = ''
        ${description}

        A file outside the Nix store. Left at its default (under
        `${mp.names.secretsDir}`), it is created on first boot by
        `${mp.names.units.secrets}.service` from the kernel's random source
        (mode 0400, root) and never touched again. Pointed elsewhere (a
        sops-nix/agenix path), nothing is generated: that file is yours. It is
        handed to the service with systemd's `LoadCredential=`, so it may be
        readable by root only; its content never enters the store.
      '';
    };

  # One option per key of nix/lib's production defaults that a host may
  # change; the default is nix/lib's value (nix/lib/settings.nix owns it).
  setting =
    path: type: description:
    mkOption {
      inherit type description;
      default = lib.getAttrFromPath path defaults;
    };

  settingsModule = {
    options = {
      extraHosts = setting [ "extraHosts" ] (types.listOf types.str) "More host names that route like `domain`.";
      publicAddress = setting [
        "publicAddress"
      ] types.str "Address Traefik's public entrypoints bind to; `\"\"` is every interface.";
      internalAddress = setting [
        "internalAddress"
      ] types.str "Address every internal service binds to (loopback; asserted).";
      ports = lib.mapAttrs (
        name: _:
        setting [ "ports" name ] types.port "TCP port of `${name}` (see nix/lib/settings.nix)."
      ) defaults.ports;
      exporters = lib.mapAttrs (
        name: _: setting [ "exporters" name ] types.bool "Run and scrape the ${name} exporter."
      ) defaults.exporters;
      edgeRateLimit = {
        average = setting [
          "edgeRateLimit"
          "average"
        ] types.ints.positive "Traefik's per-IP request rate on /api (requests per `period`).";
        period = setting [ "edgeRateLimit" "period" ] types.str "Period of `average`, e.g. `\"1s\"`.";
        burst = setting [
          "edgeRateLimit"
          "burst"
        ] types.ints.positive "Requests above `average` that Traefik lets through at once.";
        ipDepth = setting [
          "edgeRateLimit"
          "ipDepth"
        ] types.ints.unsigned "X-Forwarded-For hops to trust; 0 uses the peer address.";
      };
      hsts = {
        maxAge = setting [ "hsts" "maxAge" ] types.ints.unsigned "HSTS `max-age` in seconds.";
        includeSubdomains = setting [ "hsts" "includeSubdomains" ] types.bool "HSTS `includeSubDomains`.";
        preload = setting [ "hsts" "preload" ] types.bool "HSTS `preload`.";
      };
      grafana = {
        routed = setting [
          "grafana"
          "routed"
        ] types.bool "Route `pathPrefix` to Grafana through Traefik (off: loopback only).";
        pathPrefix = setting [ "grafana" "pathPrefix" ] types.str "URL path of Grafana when routed.";
      };
      aliasHeadersStrategy =
        setting [ "aliasHeadersStrategy" ]
          (types.nullOr (
            types.enum [
              "delete"
              "reject"
            ]
          ))
          "Traefik's `aliasHeadersStrategy` on the public entrypoints (needs Traefik >= 3.7.12).";
      scrapeInterval = setting [ "scrapeInterval" ] types.str "Prometheus' scrape interval.";
      logLevel = setting [ "logLevel" ] (types.enum [
        "DEBUG"
        "INFO"
        "WARN"
        "ERROR"
      ]) "Log level of the backend and Traefik.";
    };
  };
in
{
  imports = [
    ./backend.nix
    ./frontend.nix
    ./proxy.nix
    ./databases.nix
    ./monitoring.nix
    ./backup.nix
    ./security.nix
    ./secrets.nix
  ];

  options.services.mainplatform = {
    enable = mkEnableOption "Main Platform (Traefik, API, frontend, databases, monitoring)";

    domain = mkOption {
      type = types.str;
      example = "platform.example.org";
      description = "The public host name. Requests for any other Host get a 404.";
    };

    acmeEmail = mkOption {
      type = types.str;
      example = "ops@example.org";
      description = "Address of the Let's Encrypt (ACME) account Traefik registers.";
    };

    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ../nix/packages/backend.nix { };
      defaultText = literalExpression "pkgs.callPackage ./nix/packages/backend.nix { }";
      description = "The backend: a package with `bin/mainplatform` (the flake's `packages.<system>.backend`).";
    };

    frontendPackage = mkOption {
      type = types.package;
      default = pkgs.callPackage ../nix/packages/frontend.nix { };
      defaultText = literalExpression "pkgs.callPackage ./nix/packages/frontend.nix { }";
      description = ''
        The frontend (the flake's `packages.<system>.frontend`), whose
        `webRoot` and `serverFragment` attributes nginx serves and includes.
      '';
    };

    postgresql.package = mkPackageOption pkgs "postgresql_16" {
      extraDescription = ''
        The platform is developed and tested on PostgreSQL 16, so it sets
        `services.postgresql.package` to this (nixpkgs 26.05 would pick 17
        for a host installed with it). A major upgrade needs a dump and
        restore or `pg_upgrade`; see nixpkgs' PostgreSQL chapter.
      '';
    };

    workers = mkOption {
      type = types.ints.positive;
      default = 2;
      description = "uvicorn worker processes of the backend (one per OCPU is a good start).";
    };

    backend.settings = mkOption {
      type = types.submodule { options = mp.backendSettingOptions; };
      default = { };
      example = literalExpression ''
        {
          RATE_LIMIT_LOGIN_IP = "20/minute";
          ACCESS_TOKEN_TTL = 600;
          TRUSTED_PROXIES = [ "10.0.0.0/24" ]; # a load balancer in front of Traefik
        }
      '';
      description = ''
        The backend's own settings that an operator changes: rate limits, token
        lifetimes, pool sizes, trusted proxies, OIDC, ... One typed option per
        setting, named like its environment variable, declared (type, default,
        bounds, text) once in the backend (`mainplatform settings`). The module
        sets the rest itself: addresses and ports from `settings`, secrets from
        credential files. `TRUSTED_PROXIES` adds to Traefik's address, which is
        always trusted.
      '';
    };

    backendMemoryMax = mkOption {
      type = types.str;
      default = "512M";
      description = "systemd `MemoryMax=` of the backend (all workers together).";
    };

    secrets.jwtSecretFile = secretPath "jwt-secret" "File holding the backend's JWT signing key (at least 32 bytes).";

    secrets.jwtPreviousSecretFile = mkOption {
      type = types.nullOr types.externalPath;
      default = null;
      example = "/var/lib/mainplatform-secrets/jwt-secret.previous";
      description = ''
        The JWT signing key before a rotation: access tokens it signed stay
        valid until they expire (one `ACCESS_TOKEN_TTL`, 15 minutes by
        default). To rotate: move the key file to this path and set this
        option; on the switch a new key is generated (first-boot secrets) and
        the backend accepts both; after one token lifetime unset it and
        delete the file.
      '';
    };

    secrets.smtpPasswordFile = mkOption {
      type = types.nullOr types.externalPath;
      default = null;
      example = "/run/secrets/mainplatform/smtp-password";
      description = ''
        File holding the password for SMTP AUTH at the relay (with
        `backend.settings.SMTP_USERNAME`). Handed to the backend with
        systemd's `LoadCredential` (`$CREDENTIALS_DIRECTORY/smtp_password`),
        never put in the Nix store or the environment; never generated.

        The relay itself is set with the backend's typed options, e.g. for
        OCI Email Delivery (an SMTP relay: create SMTP credentials for a user
        and an approved sender first):

        ```nix
        services.mainplatform.backend.settings = {
          SMTP_HOST = "smtp.email.eu-frankfurt-1.oci.oraclecloud.com";
          SMTP_PORT = 587;
          SMTP_TLS = "STARTTLS";
          SMTP_USERNAME = "ocid1.user.oc1..…@ocid1.tenancy.oc1..….xx.com";
          MAIL_FROM = "Main Platform <noreply@platform.example.org>"; # an approved sender
          MAIL_REPLY_TO = "support@example.org";
        };
        services.mainplatform.secrets.smtpPasswordFile = "/run/secrets/mainplatform/smtp-password";
        ```
      '';
    };

    secrets.generate = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Create the secret files that are missing under `${mp.names.secretsDir}`
        on boot (`${mp.names.units.secrets}.service`, ordered before every
        service that reads them). Files elsewhere are never generated.
      '';
    };

    tls = {
      acme = mkOption {
        type = types.bool;
        default = true;
        description = ''
          Get the certificate from Let's Encrypt (HTTP-01 on port 80). Set to
          false to serve `certificateFile`/`keyFile` instead (your own
          certificate; the VM tests use a self-signed one).
        '';
      };
      acmeServer = mkOption {
        type = types.nullOr (types.strMatching "https://.+");
        default = null;
        example = "https://acme-staging-v02.api.letsencrypt.org/directory";
        description = ''
          The ACME directory Traefik orders from; null is Let's Encrypt's
          production CA. Let's Encrypt's staging CA is for trying a new
          host without hitting the production rate limits; the vm-https
          test points it at a pebble node. A private CA's root must be in
          `security.pki.certificateFiles`.
        '';
      };
      certificateFile = mkOption {
        type = types.nullOr types.path;
        default = null;
        description = "PEM certificate (chain) Traefik serves when `tls.acme` is false.";
      };
      keyFile = mkOption {
        type = types.nullOr types.externalPath;
        default = null;
        description = "Its private key, outside the Nix store; loaded with `LoadCredential=`.";
      };
    };

    grafana = {
      adminPasswordFile = secretPath "grafana-admin-password" "File holding the password of Grafana's `admin` user.";
      secretKeyFile = secretPath "grafana-secret-key" "File holding Grafana's `secret_key` (signs and encrypts data source secrets).";
    };

    backup = {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = "Dump PostgreSQL and Redis on a timer (`mainplatform backup`).";
      };
      dir = mkOption {
        type = types.path;
        default = "${mp.names.stateDir}/backups";
        description = "Where the dumps go (mode 0700). Copy them off the host too.";
      };
      keepDays = mkOption {
        type = types.ints.positive;
        default = 7;
        description = "Dumps older than this many days are removed.";
      };
      calendar = mkOption {
        type = types.str;
        default = "*-*-* 03:15:00";
        description = "systemd `OnCalendar=` of the backup timer.";
      };

      pitr = {
        enable = mkOption {
          type = types.bool;
          default = true;
          description = ''
            Point-in-time recovery with pgBackRest (nixpkgs' `services.pgbackrest`,
            stanza `default`): PostgreSQL archives every WAL segment to the
            repository (`archive_command`), full and differential backups run on
            timers, and `mainplatform pitr` verifies and restores them.
          '';
        };
        archiveTimeout = mkOption {
          type = types.ints.between 1 3600;
          default = 60;
          description = ''
            Seconds after which a WAL segment with writes in it is ended and
            archived: PostgreSQL's `archive_timeout`, and the period of the
            `mainplatform-wal-switch` timer (`pg_switch_wal()`), because
            PostgreSQL alone was measured to wait for its next checkpoint (up to
            `checkpoint_timeout`, 5 min). This bounds the data lost with the host
            (RPO).
          '';
        };
        repository = {
          type = mkOption {
            type = types.enum [
              "posix"
              "sftp"
              "s3"
            ];
            default = "posix";
            description = ''
              Where backups and WAL go. `posix`: a directory (`path`); on this
              host it does not survive the host: mount something else there, or
              use `s3` (Oracle Object Storage's S3-compatible API) or `sftp`.
            '';
          };
          path = mkOption {
            type = types.str;
            default = "/var/lib/pgbackrest";
            description = "posix: the directory; sftp: the directory on the server; s3: the prefix in the bucket (e.g. `/mainplatform`).";
          };
          bucket = mkOption {
            type = types.nullOr types.str;
            default = null;
            description = "s3: the bucket.";
          };
          endpoint = mkOption {
            type = types.nullOr types.str;
            default = null;
            example = "NAMESPACE.compat.objectstorage.eu-frankfurt-1.oraclecloud.com";
            description = "s3: the endpoint host name (Oracle: `<namespace>.compat.objectstorage.<region>.oraclecloud.com`).";
          };
          region = mkOption {
            type = types.nullOr types.str;
            default = null;
            example = "eu-frankfurt-1";
            description = "s3: the region.";
          };
          uriStyle = mkOption {
            type = types.enum [
              "host"
              "path"
            ];
            default = "path";
            description = "s3: bucket in the host name or in the path (Oracle's S3 API wants `path`).";
          };
          keyFile = mkOption {
            type = types.nullOr types.externalPath;
            default = null;
            description = "s3: file holding the access key id (a credential, never in the store).";
          };
          keySecretFile = mkOption {
            type = types.nullOr types.externalPath;
            default = null;
            description = "s3: file holding the secret key (a credential, never in the store).";
          };
          host = mkOption {
            type = types.nullOr types.str;
            default = null;
            description = "sftp: the server (needs pgBackRest >= 2.46, which nixpkgs has).";
          };
          sftpUser = mkOption {
            type = types.str;
            default = "pgbackrest";
            description = "sftp: the user on the server.";
          };
          sftpPrivateKeyFile = mkOption {
            type = types.nullOr types.externalPath;
            default = null;
            description = "sftp: private key, readable by the pgbackrest and postgres users.";
          };
          sftpHostFingerprint = mkOption {
            type = types.nullOr types.str;
            default = null;
            description = "sftp: the server's host key fingerprint (SHA-1 hex, `ssh-keygen -l -E sha1`).";
          };
          cipherPassFile = mkOption {
            type = types.nullOr types.externalPath;
            default = null;
            description = ''
              File holding the passphrase that encrypts the repository
              (aes-256-cbc); strongly advised for a repository off the host. Keep
              a copy off the host too: without it the backups cannot be read.
            '';
          };
        };
        retention = {
          full = mkOption {
            type = types.ints.positive;
            default = 2;
            description = "Full backups kept (with the WAL to recover from the oldest).";
          };
          diff = mkOption {
            type = types.ints.positive;
            default = 7;
            description = "Differential backups kept.";
          };
        };
        fullCalendar = mkOption {
          type = types.str;
          default = "Sun *-*-* 02:00:00";
          description = "systemd `OnCalendar=` of the full backup.";
        };
        diffCalendar = mkOption {
          type = types.str;
          default = "Mon..Sat *-*-* 02:00:00";
          description = "systemd `OnCalendar=` of the differential backup.";
        };
      };

      offsite = {
        enable = mkOption {
          type = types.bool;
          default = false;
          description = ''
            Copy what pgBackRest does not cover off the host with restic
            (`mainplatform offsite`, after each `mainplatform backup`): the Redis
            snapshots and dumps in `backup.dir`, Grafana's SQLite database (copied
            consistently first) and Traefik's ACME store.
          '';
        };
        repository = mkOption {
          type = types.str;
          default = "";
          example = "s3:https://NAMESPACE.compat.objectstorage.eu-frankfurt-1.oraclecloud.com/mainplatform-restic";
          description = "restic repository: `s3:`, `sftp:user@host:/path`, `rest:` or a path.";
        };
        passwordFile = mkOption {
          type = types.nullOr types.externalPath;
          default = null;
          description = "File holding the repository password (a credential; keep a copy off the host).";
        };
        accessKeyIdFile = mkOption {
          type = types.nullOr types.externalPath;
          default = null;
          description = "s3: file holding the access key id (credential `aws_access_key_id`).";
        };
        secretAccessKeyFile = mkOption {
          type = types.nullOr types.externalPath;
          default = null;
          description = "s3: file holding the secret key (credential `aws_secret_access_key`).";
        };
        options = mkOption {
          type = types.listOf types.str;
          default = [ ];
          example = [ "sftp.command=ssh -i /root/.ssh/backup backup@host -s sftp" ];
          description = "restic `-o key=value` options.";
        };
        keepDaily = mkOption {
          type = types.ints.positive;
          default = 7;
          description = "Daily snapshots kept.";
        };
        keepWeekly = mkOption {
          type = types.ints.positive;
          default = 4;
          description = "Weekly snapshots kept.";
        };
      };

      drill = {
        enable = mkOption {
          type = types.bool;
          default = true;
          description = ''
            The daily restore drill (`mainplatform pitr drill`): verify the
            repository, restore the newest backup and the archived WAL into a
            scratch cluster, compare schema version and row counts with the live
            database, drop it, export the result to node_exporter (alerts
            RestoreNotVerified, RestoreDrillFailed).
          '';
        };
        calendar = mkOption {
          type = types.str;
          default = "*-*-* 05:00:00";
          description = "systemd `OnCalendar=` of the drill (after the backups).";
        };
        toleranceRows = mkOption {
          type = types.ints.unsigned;
          default = 10;
          description = "Rows a restored table may differ from the live one by (writes since the last archived segment).";
        };
        tolerancePercent = mkOption {
          type = types.ints.between 0 100;
          default = 5;
          description = "The same as a share of the live count; the larger of the two applies.";
        };
      };
    };

    alerting = {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = "Prometheus Alertmanager on loopback (nixpkgs' `services.prometheus.alertmanager`), configured by nix/lib.";
      };
      email = {
        to = mkOption {
          type = types.nullOr types.str;
          default = null;
          example = "oncall@example.org";
          description = "Who gets critical and warning alerts by e-mail (null: nobody).";
        };
        from = mkOption {
          type = types.nullOr types.str;
          default = null;
          example = "alerts@platform.example.org";
          description = "The sender address.";
        };
        smarthost = mkOption {
          type = types.nullOr types.str;
          default = null;
          example = "smtp.email.eu-frankfurt-1.oci.oraclecloud.com:587";
          description = "The SMTP server, `host:port` (STARTTLS unless `requireTls` is off).";
        };
        username = mkOption {
          type = types.nullOr types.str;
          default = null;
          description = "SMTP user name.";
        };
        passwordFile = mkOption {
          type = types.nullOr types.externalPath;
          default = null;
          description = "File holding the SMTP password; handed to Alertmanager with `LoadCredential=`.";
        };
        requireTls = mkOption {
          type = types.bool;
          default = true;
          description = "Insist on STARTTLS.";
        };
      };
      webhookUrl = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "Also POST every critical and warning alert here (Alertmanager's webhook JSON). Ends up in the store.";
      };
      heartbeatUrl = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "https://hc-ping.com/<uuid>";
        description = ''
          The Watchdog alert (always firing) is POSTed here every
          `heartbeatInterval`: a dead man's switch such as healthchecks.io
          raises the alarm when it stops. Ends up in the store.
        '';
      };
      heartbeatInterval = mkOption {
        type = types.str;
        default = "1m";
        description = "How often the Watchdog is sent to `heartbeatUrl`.";
      };
    };

    settings = mkOption {
      type = types.submodule settingsModule;
      default = { };
      example = {
        ports.grafana = 3001;
        grafana.routed = true;
        edgeRateLimit.average = 20;
      };
      description = ''
        The platform's wiring (nix/lib/settings.nix): ports, Traefik's rate
        limit on /api, HSTS, exporters, Grafana routing. Each default is
        nix/lib's production default; `mode`, `domain`, `acmeEmail` and the
        paths come from the options above.
      '';
    };

    openFirewall = mkOption {
      type = types.bool;
      default = true;
      description = "Open the web entrypoints (80, 443) in the firewall; SSH is the host's (modules/host-policy.nix).";
    };

    finalSettings = mkOption {
      type = types.attrsOf types.anything;
      readOnly = true;
      internal = true;
      description = "The validated platform settings (nix/lib mkSettings) of this host, for the other parts of the module.";
    };
  };

  config = lib.mkIf cfg.enable {
    services.mainplatform.finalSettings = mp.hostSettings {
      inherit (cfg) domain acmeEmail;
      acmeServer = cfg.tls.acmeServer;
      settings = cfg.settings // {
        alerting = mp.alertingSettings cfg.alerting;
      };
      acmeStorage = "${config.services.traefik.dataDir}/acme.json";
      grafanaDashboards = "${../nix/observability/dashboards}";
    };

    assertions = [
      {
        assertion =
          let
            r = cfg.backup.pitr.repository;
          in
          !cfg.backup.pitr.enable
          || r.type != "s3"
          || (
            r.bucket != null
            && r.endpoint != null
            && r.region != null
            && r.keyFile != null
            && r.keySecretFile != null
          );
        message = "services.mainplatform.backup.pitr.repository: type s3 needs bucket, endpoint, region, keyFile and keySecretFile.";
      }
      {
        assertion =
          let
            r = cfg.backup.pitr.repository;
          in
          !cfg.backup.pitr.enable
          || r.type != "sftp"
          || (r.host != null && r.sftpPrivateKeyFile != null && r.sftpHostFingerprint != null);
        message = "services.mainplatform.backup.pitr.repository: type sftp needs host, sftpPrivateKeyFile and sftpHostFingerprint.";
      }
      {
        assertion =
          !cfg.backup.offsite.enable
          || (cfg.backup.offsite.repository != "" && cfg.backup.offsite.passwordFile != null);
        message = "services.mainplatform.backup.offsite needs repository and passwordFile.";
      }
      {
        assertion = !cfg.backup.drill.enable || cfg.backup.pitr.enable;
        message = "services.mainplatform.backup.drill restores pgBackRest backups: it needs backup.pitr.enable.";
      }
      {
        assertion = cfg.tls.acme || (cfg.tls.certificateFile != null && cfg.tls.keyFile != null);
        message = "services.mainplatform.tls: with acme = false, set certificateFile and keyFile.";
      }
      {
        assertion =
          (cfg.backend.settings.SMTP_USERNAME == null) == (cfg.secrets.smtpPasswordFile == null);
        message = "services.mainplatform: set backend.settings.SMTP_USERNAME and secrets.smtpPasswordFile together (SMTP AUTH needs both).";
      }
      {
        assertion = notOnLoopback == [ ];
        message = "services.mainplatform.settings: internal services must listen on loopback (internalAddress), not: ${lib.concatStringsSep ", " notOnLoopback}.";
      }
    ];
  };
}
