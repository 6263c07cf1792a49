# TLS without ACME, for machines the Internet cannot reach (the VM tests,
# `nix run .#vm`): a self-signed certificate for the platform's domain,
# generated at boot into /run/keys (never in the Nix store), which Traefik
# then serves (services.mainplatform.tls.certificateFile/keyFile).
{ config, pkgs, ... }:

let
  keys = "/run/keys/mainplatform";
  inherit (config.services.mainplatform) domain;
  consumers = [ "traefik.service" ];
in
{
  services.mainplatform.tls = {
    acme = false;
    certificateFile = "${keys}/tls.crt";
    keyFile = "${keys}/tls.key";
  };

  systemd.services.mainplatform-self-signed-tls = {
    description = "Generate a self-signed TLS certificate for ${domain}";
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
        -days 30 -subj /CN=${domain} -addext subjectAltName=DNS:${domain} \
        -keyout tls.key -out tls.crt
      chmod 0400 *
    '';
  };
}
