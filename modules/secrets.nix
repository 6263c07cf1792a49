# First-boot secrets: every secret file the host did not provide (left at its
# default under names.secretsDir) is created once from the kernel's random
# source, before the services that read it start. Files pointed elsewhere
# (sops-nix, agenix, by hand) are never generated.
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

  wanted = [
    {
      path = cfg.secrets.jwtSecretFile;
      bytes = 48;
      encoding = "base64";
    }
    {
      path = cfg.grafana.adminPasswordFile;
      bytes = 18;
      encoding = "base64";
    }
    {
      path = cfg.grafana.secretKeyFile;
      bytes = 32;
      encoding = "hex";
    }
  ];
  generated = lib.filter (s: lib.hasPrefix "${names.secretsDir}/" s.path) wanted;
  consumers = [
    "${names.units.backend}.service"
    "grafana.service"
  ];
in
{
  config = lib.mkIf (cfg.enable && cfg.secrets.generate && generated != [ ]) {
    systemd.services.${names.units.secrets} = {
      description = "Create the platform's missing secrets";
      wantedBy = [ "multi-user.target" ];
      before = consumers;
      requiredBy = consumers;
      path = [ pkgs.coreutils ];
      unitConfig.RequiresMountsFor = [ names.secretsDir ];
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        User = "root";
        UMask = "0077";
        PrivateNetwork = true;
        NoNewPrivileges = true;
      };
      script = mp.secretsScript generated;
    };
  };
}
