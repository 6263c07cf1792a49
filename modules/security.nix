# The host's edge: a firewall that opens exactly nix/lib's publicTcpPorts
# (22, 80, 443), SSH with keys only, fail2ban on sshd, and a few kernel and
# Nix settings a single-purpose server wants.
{
  config,
  lib,
  ...
}:

let
  cfg = config.services.mainplatform;
  mp = import ./lib.nix;
  s = cfg.finalSettings;
in
{
  config = lib.mkIf cfg.enable {
    networking.firewall = {
      enable = true;
      allowedTCPPorts = lib.mkIf cfg.openFirewall (mp.firewallTcpPorts s);
      # Refused packets are noise on a public host; fail2ban reads sshd's log.
      logRefusedConnections = lib.mkDefault false;
    };

    services.openssh = {
      enable = true;
      ports = [ s.ports.ssh ];
      # The port is opened above, from the same table as 80 and 443.
      openFirewall = false;
      settings = {
        PasswordAuthentication = false;
        KbdInteractiveAuthentication = false;
        PermitRootLogin = lib.mkDefault "prohibit-password";
        X11Forwarding = false;
      };
    };

    services.fail2ban = {
      enable = true;
      maxretry = 5;
      bantime = "1h";
      bantime-increment = {
        enable = true;
        maxtime = "168h";
        overalljails = true;
      };
      ignoreIP = [
        "127.0.0.0/8"
        "::1"
      ];
      # The sshd jail is the nixpkgs default.
    };

    boot.kernel.sysctl = {
      "kernel.kptr_restrict" = lib.mkDefault 2;
      "kernel.dmesg_restrict" = lib.mkDefault 1;
      "net.ipv4.tcp_syncookies" = lib.mkDefault 1;
      "net.ipv4.conf.all.accept_redirects" = lib.mkDefault 0;
      "net.ipv4.conf.default.accept_redirects" = lib.mkDefault 0;
      "net.ipv6.conf.all.accept_redirects" = lib.mkDefault 0;
      "net.ipv6.conf.default.accept_redirects" = lib.mkDefault 0;
      "net.ipv4.conf.all.send_redirects" = lib.mkDefault 0;
    };

    security.sudo.execWheelOnly = lib.mkDefault true;
    nix.settings.allowed-users = lib.mkDefault [ "@wheel" ];
    boot.tmp.cleanOnBoot = lib.mkDefault true;
  };
}
