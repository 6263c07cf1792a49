# The server node of the platform, hardening and deploy VM tests: ./node.nix
# with one test-only change: TLS from a self-signed certificate instead of
# ACME, generated at boot into /run/keys (./https.nix tests ACME itself,
# against a CA node).
{ self }:
{ pkgs, ... }:

let
  keys = "/run/keys/mainplatform";
  consumers = [ "traefik.service" ];
in
{
  imports = [ (import ./node.nix { inherit self; }) ];

  services.mainplatform.tls = {
    acme = false;
    certificateFile = "${keys}/tls.crt";
    keyFile = "${keys}/tls.key";
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
}
