# The platform's own part of the host's edge: the firewall opens its web
# entrypoints (nix/lib's publicTcpPorts without SSH: 80 and 443). Everything
# else the platform listens on is loopback-only (asserted in default.nix).
# SSH, fail2ban, kernel and Nix settings are host policy: the opt-in mixin
# modules/host-policy.nix.
{
  config,
  lib,
  ...
}:

let
  cfg = config.services.mainplatform;
  mp = import ./lib.nix { inherit lib; };
in
{
  config = lib.mkIf (cfg.enable && cfg.openFirewall) {
    networking.firewall.allowedTCPPorts = mp.webTcpPorts cfg.finalSettings;
  };
}
