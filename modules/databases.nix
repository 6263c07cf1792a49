# PostgreSQL 16 and Redis 7, both reached over Unix sockets only by the
# platform: the backend's user `mainplatform` owns the database `mainplatform`
# (peer authentication, no password), and is in the Redis server's group
# (socket mode 0660). PostgreSQL keeps the nixpkgs default of listening on
# localhost only; Redis listens on no TCP port at all.
{
  config,
  lib,
  ...
}:

let
  cfg = config.services.mainplatform;
  mp = import ./lib.nix { inherit lib; };
  inherit (mp) names;
  redisCfg = config.services.redis.servers.${names.redisServer};
in
{
  config = lib.mkIf cfg.enable {
    services.postgresql = {
      enable = true;
      # A deliberate choice, at normal priority over nixpkgs' own mkDefault
      # (which follows system.stateVersion); change it through
      # services.mainplatform.postgresql.package.
      inherit (cfg.postgresql) package;
      ensureDatabases = [ names.database ];
      ensureUsers = [
        {
          name = names.user;
          ensureDBOwnership = true;
        }
        # The metrics exporter: may read statistics (pg_monitor, granted
        # below), nothing else.
        { name = names.postgresExporterRole; }
      ];
      settings = {
        # A small host: modest memory, logs to the journal.
        shared_buffers = lib.mkDefault "256MB";
        max_connections = lib.mkDefault 100;
        log_min_duration_statement = lib.mkDefault 500;
      };
    };

    # Runs as postgres after the ensureUsers statements (mkAfter).
    systemd.services.postgresql-setup.script = lib.mkAfter ''
      psql -tAc 'GRANT pg_monitor TO "${names.postgresExporterRole}"'
    '';

    services.redis.servers.${names.redisServer} = {
      enable = true;
      # No TCP listener: the Unix socket /run/redis-mainplatform/redis.sock.
      port = 0;
      unixSocketPerm = 660;
      appendOnly = true;
      settings = {
        maxmemory = lib.mkDefault "128mb";
        # The denylist and rate-limit keys all carry TTLs: evict those first.
        maxmemory-policy = lib.mkDefault "volatile-ttl";
      };
    };

    # The socket belongs to the server's group.
    users.users.${names.user}.extraGroups = [ redisCfg.group ];
  };
}
