# What the tests read from one evaluation: failed assertions and warnings of
# every module (nixpkgs' and ours), every systemd unit as nixpkgs renders it,
# and each value our module and host define in nixpkgs' namespaces, forced
# through nixpkgs' own types (and, for generated files, their renderers).
{ lib }:
evaluation:
let
  c = evaluation.config;
  # Path values as strings: toJSON would copy them into the store (exporters.nix sets
  # WorkingDirectory = /tmp, a path literal).
  plain = v: if builtins.isPath v then toString v else if builtins.isList v then map plain v else if builtins.isAttrs v && !(v ? outPath) then lib.mapAttrs (_: plain) v else v;
  json = v: builtins.fromJSON (builtins.unsafeDiscardStringContext (builtins.toJSON (plain v)));
  pick = names: attrs: lib.filterAttrs (n: _: lib.elem n names) attrs;
  ours = c.services.mainplatform;
in
{
  inherit evaluation;
  report = json {
    assertions = map (a: a.message) (lib.filter (a: !a.assertion) c.assertions);
    inherit (c) warnings;
    units = lib.mapAttrs (_: u: u.text or null) (lib.filterAttrs (_: u: u.enable) c.systemd.units);
    services = lib.mapAttrs (
      _: s:
      pick [
        "after"
        "wants"
        "requires"
        "wantedBy"
        "environment"
        "serviceConfig"
        "path"
        "script"
      ] s
    ) c.systemd.services;
    timers = lib.mapAttrs (_: t: pick [ "wantedBy" "timerConfig" ] t) c.systemd.timers;
    tmpfiles = c.systemd.tmpfiles.settings;
    fileSystems = c.fileSystems;
    finalSettings = ours.finalSettings;
    traefik = {
      inherit (c.services.traefik)
        staticConfigOptions
        dynamicConfigOptions
        dataDir
        ;
    };
    postgresql = {
      package = c.services.postgresql.package.name;
      inherit (c.services.postgresql) ensureDatabases ensureUsers settings;
    };
    redis = pick [
      "enable"
      "port"
      "unixSocket"
      "unixSocketPerm"
      "appendOnly"
      "settings"
      "user"
      "group"
    ] c.services.redis.servers.mainplatform;
    prometheus = {
      inherit (c.services.prometheus)
        listenAddress
        port
        globalConfig
        scrapeConfigs
        ruleFiles
        retentionTime
        alertmanagers
        ;
      exporters = lib.mapAttrs (
        _: e:
        pick [
          "enable"
          "listenAddress"
          "port"
          "extraFlags"
          "enabledCollectors"
          "dataSourceName"
        ] e
      ) (pick [ "node" "postgres" "redis" ] c.services.prometheus.exporters);
    };
    grafana = {
      inherit (c.services.grafana) settings;
      provision = {
        datasources = c.services.grafana.provision.datasources.settings;
        dashboards = c.services.grafana.provision.dashboards.settings;
      };
    };
    nginx.virtualHosts = lib.mapAttrs (
      _: v:
      pick [
        "serverName"
        "default"
        "listen"
        "root"
        "extraConfig"
      ] v
    ) c.services.nginx.virtualHosts;
    openssh = {
      inherit (c.services.openssh) enable ports openFirewall;
      settings = pick [
        "PasswordAuthentication"
        "KbdInteractiveAuthentication"
        "PermitRootLogin"
        "X11Forwarding"
      ] c.services.openssh.settings;
    };
    fail2ban = pick [
      "enable"
      "maxretry"
      "bantime"
      "bantime-increment"
      "ignoreIP"
    ] c.services.fail2ban;
    firewall = pick [
      "enable"
      "allowedTCPPorts"
      "allowedUDPPorts"
      "logRefusedConnections"
    ] c.networking.firewall;
    # The pgBackRest configuration nixpkgs' module writes (null without it).
    pgbackrest = c.environment.etc."pgbackrest/pgbackrest.conf".source.text or null;
    alertmanager = pick [
      "enable"
      "configuration"
      "listenAddress"
      "port"
      "extraFlags"
    ] c.services.prometheus.alertmanager;
    sysctl = c.boot.kernel.sysctl;
    sudo.execWheelOnly = c.security.sudo.execWheelOnly;
    nix = pick [
      "allowed-users"
      "experimental-features"
    ] c.nix.settings;
    users = lib.mapAttrs (
      _: u:
      pick [
        "isSystemUser"
        "group"
        "extraGroups"
        "home"
      ] u
    ) (pick [ "mainplatform" ] c.users.users);
    systemPackages = map (p: p.name) c.environment.systemPackages;
    stateVersion = c.system.stateVersion;
    hostPlatform = c.nixpkgs.hostPlatform.system;
  };
}
