# The server node of the VM tests: the flake's module in production mode,
# with two test-only changes: TLS from a self-signed certificate instead of
# Let's Encrypt (the VMs have no Internet), and secrets generated at boot
# into /run/keys (on a real host the operator or sops-nix/agenix writes them).
# Nothing secret is in the Nix store here either.
{ self }:
{
  lib,
  pkgs,
  ...
}:

let
  keys = "/run/keys/mainplatform";
  consumers = [
    "mainplatform-backend.service"
    "grafana.service"
    "traefik.service"
  ];
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
    secrets.jwtSecretFile = "${keys}/jwt-secret";
    grafana.adminPasswordFile = "${keys}/grafana-admin-password";
    grafana.secretKeyFile = "${keys}/grafana-secret-key";
    tls = {
      acme = false;
      certificateFile = "${keys}/tls.crt";
      keyFile = "${keys}/tls.key";
    };
  };

  systemd.services.mainplatform-test-secrets = {
    description = "Generate the VM test's secrets and TLS certificate";
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
      openssl rand -base64 48 > jwt-secret
      openssl rand -hex 16 | tr -d '\n' > grafana-admin-password
      openssl rand -hex 32 > grafana-secret-key
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
