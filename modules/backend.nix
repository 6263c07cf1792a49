# The API: `mainplatform serve` with its workers on loopback, after
# `mainplatform migrate` (ExecStartPre, so it runs before every start and
# restart of the backend, and a failed migration keeps the old code from
# serving a new schema). PostgreSQL and Redis over their Unix sockets; the
# JWT key as a systemd credential.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  cfg = config.services.mainplatform;
  mp = import ./lib.nix { inherit lib; };
  inherit (mp) names;
  s = cfg.finalSettings;

  program = lib.getExe' cfg.package "mainplatform";

  # `mainplatform-admin create-admin you@example.org` (as root): the CLI as the service
  # user, with the service's database and Redis addresses (no secrets needed).
  adminTool = pkgs.writeShellScriptBin "mainplatform-admin" ''
    exec ${lib.getExe' pkgs.util-linux "runuser"} -u ${names.user} -- \
      ${lib.getExe' pkgs.coreutils "env"} ${
        lib.concatStringsSep " " (
          lib.mapAttrsToList (k: v: "${k}=${lib.escapeShellArg v}") mp.databaseEnvironment
        )
      } ${program} "$@"
  '';
  inherit (mp) databaseUnits;
in
{
  config = lib.mkIf cfg.enable {
    environment.systemPackages = [ adminTool ];

    users.users.${names.user} = {
      isSystemUser = true;
      group = names.group;
      description = "Main Platform API";
      home = names.stateDir;
    };
    users.groups.${names.group} = { };

    systemd.tmpfiles.settings."10-mainplatform".${names.stateDir}.d = {
      user = names.user;
      group = names.group;
      mode = "0750";
    };

    systemd.services.${names.units.backend} = {
      description = "Main Platform API (uvicorn)";
      wantedBy = [ "multi-user.target" ];
      after = databaseUnits ++ [ "network.target" ];
      requires = databaseUnits;
      environment = mp.backendEnvironment {
        settings = s;
        inherit (cfg) workers;
        backend = cfg.backend.settings;
      };
      serviceConfig = mp.hardening // {
        # exec: `systemctl start` fails when the program cannot be started,
        # (simple would report success before the exec).
        Type = "exec";
        # Idempotent, under an advisory lock; the backend starts only after it succeeded.
        ExecStartPre = "${program} migrate";
        User = names.user;
        Group = names.group;
        ExecStart = "${program} serve";
        # $CREDENTIALS_DIRECTORY/jwt_secret: the backend reads it there.
        LoadCredential = [
          "jwt_secret:${cfg.secrets.jwtSecretFile}"
        ]
        ++ lib.optional (
          cfg.secrets.jwtPreviousSecretFile != null
        ) "jwt_previous_secret:${cfg.secrets.jwtPreviousSecretFile}"
        # $CREDENTIALS_DIRECTORY/smtp_password: SMTP_PASSWORD for the relay's AUTH.
        ++ lib.optional (
          cfg.secrets.smtpPasswordFile != null
        ) "smtp_password:${cfg.secrets.smtpPasswordFile}";
        RuntimeDirectory = names.runtimeDir;
        RuntimeDirectoryMode = "0700";
        WorkingDirectory = "/run/${names.runtimeDir}";
        Restart = "on-failure";
        RestartSec = "2s";
        TimeoutStopSec = "30s";
        MemoryMax = cfg.backendMemoryMax;
        TasksMax = 256;
        LimitNOFILE = 65536;
      };
    };
  };
}
