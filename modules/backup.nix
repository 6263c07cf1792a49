# Backups: `mainplatform backup` on a timer, as the backend's user (it owns
# the database, so pg_dump needs no extra rights; it is in the Redis group,
# so redis-cli --rdb reaches the socket). Dumps go to backup.dir (0700);
# the freshness metric goes to node_exporter's textfile directory, where the
# BackupTooOld / BackupMetricMissing alerts watch it.
#
# Point-in-time recovery (backup.pitr): nixpkgs' services.pgbackrest with
# its `default` stanza for the local PostgreSQL, one repository (posix, sftp
# or s3), WAL archived by archive_command, full and differential backups on
# timers; every unit that runs pgBackRest gets the repository's secrets as
# systemd credentials and runs it through a wrapper that puts them in
# pgBackRest's environment (never in the store, never in pgbackrest.conf).
# The restore drill (backup.drill) runs `mainplatform pitr drill` daily as
# postgres.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  cfg = config.services.mainplatform;
  mp = import ./lib.nix { inherit lib; };
  inherit (mp) names databaseUnits;
  pitr = cfg.backup.pitr;
  drill = cfg.backup.drill;
  mainplatform = lib.getExe' cfg.package "mainplatform";

  secrets = mp.pgbackrestSecrets pitr.repository;
  credentials = map (c: "${c.name}:${c.file}") secrets;
  # `pgbackrest` with the repository's secrets from $CREDENTIALS_DIRECTORY.
  pgbackrest = pkgs.writeShellScriptBin "pgbackrest" (
    mp.pgbackrestWrapper {
      program = lib.getExe pkgs.pgbackrest;
      inherit secrets;
    }
  );
  pgbackrestExe = "${pgbackrest}/bin/pgbackrest";

  jobs = {
    full = pitr.fullCalendar;
    diff = pitr.diffCalendar;
  };
  offsite = cfg.backup.offsite;
  offsiteCredentials =
    lib.optional (offsite.passwordFile != null) "restic_password:${offsite.passwordFile}"
  ++ lib.optional (
    offsite.accessKeyIdFile != null
  ) "aws_access_key_id:${offsite.accessKeyIdFile}"
  ++ lib.optional (
    offsite.secretAccessKeyFile != null
  ) "aws_secret_access_key:${offsite.secretAccessKeyFile}";

  textfileAccess = {
    SupplementaryGroups = [ names.textfileGroup ];
    ReadWritePaths = [ names.textfileDir ];
  };
in
{
  config = lib.mkIf cfg.enable (
    lib.mkMerge [
      (lib.mkIf pitr.enable {
        services.pgbackrest = {
          enable = true;
          repos = mp.pgbackrestRepos pitr;
          settings = {
            start-fast = true;
            compress-type = "zst";
            process-max = 1;
          };
          stanzas.${names.stanza} = {
            jobs = lib.mapAttrs (type: schedule: { inherit schedule type; }) jobs;
            settings.cmd = lib.mkForce pgbackrestExe;
            # NixOS' PostgreSQL listens in /run/postgresql, not pgBackRest's default.
            instances.localhost.socket-path = names.postgresSocketDir;
          };
        };

        services.postgresql.settings = {
          archive_command = lib.mkForce ''${pgbackrestExe} --stanza=${names.stanza} archive-push "%p"'';
          archive_mode = "on";
          archive_timeout = pitr.archiveTimeout;
          wal_level = "replica";
        };
        # archive_timeout alone was measured not to bound the loss: PostgreSQL 15
        # only looked at it when the checkpointer woke (every checkpoint_timeout,
        # 5 min), so a lone commit waited up to 5 min. This timer ends the WAL
        # segment every archiveTimeout seconds; pg_switch_wal() does nothing when
        # nothing was written since the last switch.
        systemd.timers.${names.units.walSwitch} = {
          description = "End the WAL segment every ${toString pitr.archiveTimeout} s (archiving)";
          wantedBy = [ "timers.target" ];
          timerConfig = {
            OnBootSec = "2min";
            OnUnitActiveSec = "${toString pitr.archiveTimeout}s";
            AccuracySec = "1s";
          };
        };

        # archive-push runs inside postgresql.service.
        systemd.services = {
          postgresql.serviceConfig.LoadCredential = credentials;
          ${names.units.walSwitch} = {
            description = "End the current WAL segment so that it is archived";
            after = [ "postgresql.target" ];
            # quietly nothing while PostgreSQL is not up
            unitConfig.ConditionPathExists = "${names.postgresSocketDir}/.s.PGSQL.${toString config.services.postgresql.settings.port}";
            serviceConfig = mp.hardening // {
              Type = "oneshot";
              User = "postgres";
              Group = "postgres";
              ExecStart = lib.escapeShellArgs [
                (lib.getExe' config.services.postgresql.package "psql")
                "--host=${names.postgresSocketDir}"
                "--dbname=postgres"
                "--no-psqlrc"
                "--quiet"
                "--command=SELECT pg_switch_wal()"
              ];
            };
          };
        }
        // lib.mapAttrs' (
          type: _:
          lib.nameValuePair "pgbackrest-${names.stanza}-${type}" {
            after = [ "postgresql.target" ];
            requires = [ "postgresql.target" ];
            path = [ pgbackrest ];
            serviceConfig = textfileAccess // {
              ExecStartPre = lib.mkForce "${pgbackrestExe} --stanza=${names.stanza} stanza-create";
              ExecStart = lib.mkForce "${pgbackrestExe} --stanza=${names.stanza} backup --type=${type}";
              # The newest backup's age for BackupTooOld (kind="pitr").
              ExecStartPost = lib.escapeShellArgs [
                mainplatform
                "pitr"
                "--stanza"
                names.stanza
                "metrics"
                "--textfile-dir"
                names.textfileDir
              ];
              LoadCredential = credentials;
              Nice = 10;
              IOSchedulingClass = "idle";
            };
          }
        ) jobs;
      })

      (lib.mkIf (pitr.enable && drill.enable) {
        systemd.services.${names.units.restoreDrill} = {
          description = "Main Platform restore drill (newest backup into a scratch cluster)";
          after = [ "postgresql.target" ];
          requires = [ "postgresql.target" ];
          # pg_ctl of the server's own major version, and pgbackrest.
          path = [
            config.services.postgresql.package
            pgbackrest
          ];
          environment.DATABASE_URL = mp.databaseEnvironment.DATABASE_URL;
          serviceConfig = mp.hardening // textfileAccess // {
            Type = "oneshot";
            # The cluster's owner: restores and starts the scratch cluster,
            # reads the repository (group pgbackrest), peers into the live
            # database as postgres.
            User = "postgres";
            Group = "postgres";
            SupplementaryGroups = [
              names.textfileGroup
              "pgbackrest"
            ];
            StateDirectory = names.units.restoreDrill;
            StateDirectoryMode = "0700";
            ExecStart = lib.escapeShellArgs [
              mainplatform
              "pitr"
              "--stanza"
              names.stanza
              "drill"
              "--scratch"
              "/var/lib/${names.units.restoreDrill}/scratch"
              "--database"
              names.database
              "--tolerance-rows"
              (toString drill.toleranceRows)
              "--tolerance-ratio"
              (toString (drill.tolerancePercent / 100.0))
              "--textfile-dir"
              names.textfileDir
            ];
            LoadCredential = credentials;
            # PostgreSQL itself runs in this unit for a while.
            SystemCallFilter = [ "@system-service" ];
            Nice = 10;
            IOSchedulingClass = "idle";
            TimeoutStartSec = "6h";
          };
        };
        systemd.timers.${names.units.restoreDrill} = {
          description = "Daily Main Platform restore drill";
          wantedBy = [ "timers.target" ];
          timerConfig = {
            OnCalendar = drill.calendar;
            Persistent = true;
            RandomizedDelaySec = "10m";
          };
        };
      })

      (lib.mkIf (cfg.backup.enable && cfg.backup.offsite.enable) {
        # After each backup: its Redis snapshot and dumps, Grafana's database and
        # Traefik's ACME store to the restic repository. As root (it reads three
        # services' files), read-only but for its cache and staging directory.
        environment.systemPackages = [ pkgs.restic ]; # for restores by hand
        systemd.services.${names.units.backup}.wants = [ "${names.units.offsite}.service" ];
        systemd.services.${names.units.offsite} = {
          description = "Main Platform off-host copy (restic)";
          after = [ "${names.units.backup}.service" ];
          path = [ pkgs.restic ] ++ lib.optional (offsite.options != [ ]) pkgs.openssh;
          serviceConfig = mp.hardening // {
            Type = "oneshot";
            # Reads the other services' files; writes only where it may.
            CapabilityBoundingSet = [ "CAP_DAC_READ_SEARCH" ];
            AmbientCapabilities = [ "CAP_DAC_READ_SEARCH" ];
            SupplementaryGroups = [ names.textfileGroup ];
            StateDirectory = names.units.offsite;
            StateDirectoryMode = "0700";
            ReadWritePaths = [ names.textfileDir ];
            LoadCredential = offsiteCredentials;
            ExecStart = lib.escapeShellArgs (
              [
                mainplatform
                "offsite"
                "--repository"
                offsite.repository
                "--password-file"
                "${names.credentialsDir names.units.offsite}/restic_password"
                "--cache-dir"
                "/var/lib/${names.units.offsite}/cache"
              ]
              ++ lib.concatMap (o: [
                "--option"
                o
              ]) offsite.options
              ++ [
                "backup"
                "--path"
                cfg.backup.dir
                "--path"
                cfg.finalSettings.paths.acmeStorage
                "--sqlite"
                config.services.grafana.settings.database.path
                "--stage"
                "/var/lib/${names.units.offsite}/stage"
                "--keep-daily"
                (toString offsite.keepDaily)
                "--keep-weekly"
                (toString offsite.keepWeekly)
                "--textfile-dir"
                names.textfileDir
              ]
            );
            Nice = 10;
            IOSchedulingClass = "idle";
            TimeoutStartSec = "6h";
          };
        };
      })

      (lib.mkIf cfg.backup.enable {
        systemd.tmpfiles.settings."10-mainplatform-backup".${cfg.backup.dir}.d = {
          user = names.user;
          group = names.group;
          mode = "0700";
        };

        systemd.services.${names.units.backup} = {
          description = "Main Platform backup (PostgreSQL dump, Redis snapshot)";
          after = databaseUnits ++ [ "${names.units.backend}.service" ];
          requires = databaseUnits;
          # pg_dump of the server's own major version, and redis-cli.
          path = [
            config.services.postgresql.package
            config.services.redis.package
          ];
          environment = mp.databaseEnvironment;
          serviceConfig = mp.hardening // {
            Type = "oneshot";
            User = names.user;
            Group = names.group;
            ExecStart = mp.backupCommand {
              program = lib.getExe' cfg.package "mainplatform";
              inherit (cfg.backup) dir keepDays;
            };
            ReadWritePaths = [
              cfg.backup.dir
              names.textfileDir
            ];
            SupplementaryGroups = [ names.textfileGroup ];
            # Dumps are big sequential writes: stay out of the API's way.
            Nice = 10;
            IOSchedulingClass = "idle";
            TimeoutStartSec = "1h";
          };
        };

        systemd.timers.${names.units.backup} = {
          description = "Daily Main Platform backup";
          wantedBy = [ "timers.target" ];
          timerConfig = {
            OnCalendar = cfg.backup.calendar;
            Persistent = true;
            RandomizedDelaySec = "10m";
          };
        };
      })
    ]
  );
}
