# Backups: `mainplatform backup` on a timer, as the backend's user (it owns
# the database, so pg_dump needs no extra rights; it is in the Redis group,
# so redis-cli --rdb reaches the socket). Dumps go to backup.dir (0700);
# the freshness metric goes to node_exporter's textfile directory, where the
# BackupTooOld / BackupMetricMissing alerts watch it.
{
  config,
  lib,
  ...
}:

let
  cfg = config.services.mainplatform;
  mp = import ./lib.nix { inherit lib; };
  inherit (mp) names databaseUnits;
in
{
  config = lib.mkIf (cfg.enable && cfg.backup.enable) {
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
  };
}
