# `nix run .#vm`: the oci host (./oci.nix, the same module and settings) in a
# local QEMU VM, to try the appliance before deploying it. What differs, and
# only here:
# - the architecture: this machine's instead of aarch64 (flake.nix passes
#   `system`); the boot loader, disk and console settings of oci.nix do not
#   apply, because the VM boots the kernel directly from a fresh disk image
#   (nixpkgs' virtualisation.vmVariant, as `nixos-rebuild build-vm`);
# - the domain, mainplatform.localhost (browsers and curl resolve *.localhost
#   to loopback), with a self-signed certificate generated on first boot
#   instead of Let's Encrypt (a VM on a laptop cannot pass HTTP-01);
# - the platform's HTTPS, HTTP and SSH ports forwarded from 127.0.0.1 of this
#   machine (8443, 8080, 2222: the ports below; nix/apps.nix prints them);
#   Grafana and Prometheus stay on the VM's loopback, as on the host;
# - the console logs in as root automatically (it is your own terminal).
# The platform's secrets are generated inside the VM on first boot, as on
# the real host.
{ system }:
{ config, lib, ... }:

let
  ports = config.services.mainplatform.finalSettings.ports;
  # this machine's 127.0.0.1:hostPort -> the VM's guestPort
  forward = hostPort: guestPort: {
    from = "host";
    host.address = "127.0.0.1";
    host.port = hostPort;
    guest.port = guestPort;
  };
in
{
  imports = [ ./self-signed-tls.nix ];

  nixpkgs.hostPlatform = lib.mkForce system;
  networking.hostName = lib.mkForce "mainplatform-vm";
  services.mainplatform.domain = lib.mkForce "mainplatform.localhost";
  services.getty.autologinUser = "root";

  virtualisation.vmVariant.virtualisation = {
    memorySize = 4096;
    cores = 2;
    diskSize = 8192;
    graphics = false;
    forwardPorts = [
      (forward 8443 ports.websecure)
      (forward 8080 ports.web)
      (forward 2222 ports.ssh)
    ];
  };
}
