# The Main Platform NixOS module: the whole platform of one host (Traefik,
# the backend, the frontend's nginx, PostgreSQL, Redis, Prometheus with its
# exporters, Grafana, backups, firewall and SSH) behind one option
# namespace, `services.mainplatform`. One file per concern, like
# nix-community/srvos and selfhostblocks; the wiring (ports, routes, Traefik,
# Prometheus, Grafana provisioning) comes from nix/lib through
# modules/lib.nix, so the host and the local stack cannot drift apart.
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
  mp = import ./lib.nix;
  inherit (lib) mkOption mkEnableOption types;

  dashboardsDir = ../nix/observability/dashboards;

  secretPath =
    description:
    mkOption {
      type = types.str;
      example = "/run/keys/mainplatform-jwt-secret";
      description = ''
        ${description}

        An absolute path to a file outside the Nix store (written by hand
        with mode 0400, or managed by sops-nix/agenix). It is handed to the
        service with systemd's `LoadCredential=`, so it may be readable by
        root only; its content never enters the store.
      '';
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
      description = ''
        The backend: a package with `bin/mainplatform` (the flake's
        `packages.<system>.backend`; set by the flake's nixosModules.default).
      '';
    };

    frontendPackage = mkOption {
      type = types.package;
      description = ''
        The frontend: the flake's `packages.<system>.frontend`, whose
        `webRoot` and `serverFragment` attributes nginx serves and includes
        (set by the flake's nixosModules.default).
      '';
    };

    workers = mkOption {
      type = types.ints.positive;
      default = 2;
      description = "uvicorn worker processes of the backend (one per OCPU is a good start).";
    };

    backendMemoryMax = mkOption {
      type = types.str;
      default = "512M";
      description = "systemd `MemoryMax=` of the backend (all workers together).";
    };

    secrets.jwtSecretFile = secretPath "File holding the backend's JWT signing key (at least 32 bytes), e.g. `openssl rand -base64 48`.";

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
      certificateFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "PEM certificate (chain) Traefik serves when `tls.acme` is false.";
      };
      keyFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "Its private key, outside the Nix store; loaded with `LoadCredential=`.";
      };
    };

    grafana = {
      adminPasswordFile = secretPath "File holding the password of Grafana's `admin` user.";
      secretKeyFile = secretPath "File holding Grafana's `secret_key` (signs and encrypts data source secrets), e.g. `openssl rand -hex 32`.";
    };

    backup = {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = "Dump PostgreSQL and Redis on a timer (`mainplatform backup`).";
      };
      dir = mkOption {
        type = types.str;
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
    };

    settings = mkOption {
      type = types.attrsOf types.anything;
      default = { };
      example = {
        ports.grafana = 3001;
        grafana.routed = true;
        rateLimit.average = 20;
      };
      description = ''
        Raw overrides for nix/lib's `mkSettings` (mode is always
        "production"; `domain` and `acmeEmail` come from the options above).
        Unknown keys are an error. See nix/lib/settings.nix.
      '';
    };

    openFirewall = mkOption {
      type = types.bool;
      default = true;
      description = "Open nix/lib's public ports (22, 80, 443) in the firewall, nothing else.";
    };

    # Read-only: what the other parts of the module (and the tests) use.
    finalSettings = mkOption {
      type = types.attrsOf types.anything;
      readOnly = true;
      internal = true;
      description = "The validated platform settings (nix/lib mkSettings) of this host.";
    };
  };

  config = lib.mkIf cfg.enable {
    services.mainplatform.finalSettings = mp.hostSettings {
      inherit (cfg) domain acmeEmail;
      acmeStorage = "${config.services.traefik.dataDir}/acme.json";
      grafanaDashboards = if builtins.pathExists dashboardsDir then "${dashboardsDir}" else null;
      overrides = cfg.settings;
    };

    assertions = [
      {
        assertion = mp.isExternalPath cfg.secrets.jwtSecretFile;
        message = "services.mainplatform.secrets.jwtSecretFile must be an absolute path outside the Nix store, given as a string.";
      }
      {
        assertion =
          mp.isExternalPath cfg.grafana.adminPasswordFile
          && mp.isExternalPath cfg.grafana.secretKeyFile;
        message = "services.mainplatform.grafana.{adminPasswordFile,secretKeyFile} must be absolute paths outside the Nix store, given as strings.";
      }
      {
        assertion =
          cfg.tls.acme
          || (
            cfg.tls.certificateFile != null
            && cfg.tls.keyFile != null
            && mp.isExternalPath cfg.tls.keyFile
          );
        message = "services.mainplatform.tls: with acme = false, set certificateFile and keyFile (the key outside the Nix store).";
      }
      {
        assertion = mp.nonLoopbackInternal cfg.finalSettings == [ ];
        message = "services.mainplatform.settings: internal services must listen on loopback (internalAddress).";
      }
    ];
  };
}
