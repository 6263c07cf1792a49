# Host policy for a single-purpose public server, as a mixin a host opts into
# (like nix-community/srvos' mixins): exported as the flake's
# nixosModules.host-policy and imported by nix/hosts/oci.nix. It is not part
# of services.mainplatform, so a host with its own SSH or kernel policy simply
# leaves it out.
#
# Every value yields to the host: mkDefault for options nixpkgs does not
# default itself, and mkOverride 900 (above nixpkgs' own mkDefault at 1000,
# below a host's plain assignment at 100) where nixpkgs already sets a
# mkDefault (config/sysctl.nix's kernel.kptr_restrict = 1,
# profiles/hardened.nix's redirect sysctls), since two mkDefaults of one
# sysctl are a conflict.
{ lib, ... }:

let
  defaults = (import ./lib.nix { inherit lib; }).productionDefaults;
  policy = lib.mkOverride 900;
in
{
  # SSH with keys only; its port (nix/lib's ports.ssh) is opened by the
  # nixpkgs module (services.openssh.openFirewall, default true).
  services.openssh = {
    enable = lib.mkDefault true;
    ports = lib.mkDefault [ defaults.ports.ssh ];
    settings = {
      PasswordAuthentication = lib.mkDefault false;
      KbdInteractiveAuthentication = lib.mkDefault false;
      PermitRootLogin = lib.mkDefault "prohibit-password";
      X11Forwarding = lib.mkDefault false;
    };
  };

  # fail2ban's sshd jail is the nixpkgs default; bans grow for repeat offenders.
  services.fail2ban = {
    enable = lib.mkDefault true;
    maxretry = lib.mkDefault 5;
    bantime = lib.mkDefault "1h";
    bantime-increment = {
      enable = lib.mkDefault true;
      maxtime = lib.mkDefault "168h";
      overalljails = lib.mkDefault true;
    };
    ignoreIP = [
      "127.0.0.0/8"
      "::1"
    ];
  };

  # Refused packets are noise on a public host; fail2ban reads sshd's log.
  networking.firewall.logRefusedConnections = lib.mkDefault false;

  boot.kernel.sysctl = {
    "kernel.kptr_restrict" = policy 2;
    "kernel.dmesg_restrict" = policy 1;
    "net.ipv4.tcp_syncookies" = policy 1;
    "net.ipv4.conf.all.accept_redirects" = policy false;
    "net.ipv4.conf.default.accept_redirects" = policy false;
    "net.ipv6.conf.all.accept_redirects" = policy false;
    "net.ipv6.conf.default.accept_redirects" = policy false;
    "net.ipv4.conf.all.send_redirects" = policy false;
    "net.ipv4.conf.default.send_redirects" = policy false;
  };

  security.sudo.execWheelOnly = lib.mkDefault true;
  nix.settings.allowed-users = lib.mkDefault [ "@wheel" ];
  boot.tmp.cleanOnBoot = lib.mkDefault true;
}
