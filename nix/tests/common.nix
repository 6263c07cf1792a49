# The server node of the VM tests: the flake's module in production mode,
# with one test-only change: TLS from a self-signed certificate instead of
# Let's Encrypt (the VMs have no Internet), generated at boot into
# /run/keys. The platform's own secrets are the module's: created on first
# boot by mainplatform-secrets.service, as on a real host. Nothing secret is
# in the Nix store here either.
{ self }:
{
  lib,
  pkgs,
  ...
}:

let
  keys = "/run/keys/mainplatform";
  consumers = [ "traefik.service" ];
in
{
  imports = [
    self.nixosModules.default
    self.nixosModules.host-policy
  ];

  virtualisation = {
    memorySize = 3072;
    cores = 2;
    diskSize = 4096;
  };

  services.mainplatform = {
    enable = true;
    domain = "platform.test";
    acmeEmail = "ops@platform.test";
    workers = 2;
    tls = {
      acme = false;
      certificateFile = "${keys}/tls.crt";
      keyFile = "${keys}/tls.key";
    };
  };

  systemd.services.mainplatform-test-secrets = {
    description = "Generate the VM test's TLS certificate";
    wantedBy = [ "multi-user.target" ];
    before = consumers;
    requiredBy = consumers;
    path = [
      pkgs.openssl
      pkgs.coreutils
    ];
    serviceConfig = {
      Type = "oneshot";
      RemainAfterExit = true;
    };
    script = ''
      umask 077
      mkdir -p ${keys}
      cd ${keys}
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -days 2 -subj /CN=platform.test -addext subjectAltName=DNS:platform.test \
        -keyout tls.key -out tls.crt
      chmod 0400 *
    '';
  };

  environment.systemPackages = [
    pkgs.curl
    pkgs.jq
  ];
}
