# Traefik: the only public listener (80 and 443). Its static and dynamic
# configuration are nix/lib's traefikStatic/traefikDynamic for this host, in
# nixpkgs' services.traefik.staticConfigOptions/dynamicConfigOptions (the
# nixpkgs module writes both as TOML and points the file provider at the
# dynamic file). The ACME account and certificates live in its dataDir.
{
  config,
  lib,
  ...
}:

let
  cfg = config.services.mainplatform;
  mp = import ./lib.nix { inherit lib; };
  s = cfg.finalSettings;

  # Without ACME, Traefik reads the certificate and key from its systemd
  # credentials, so the key file itself can stay root-only.
  credentials = mp.names.credentialsDir "traefik";
  ownCertificate = !cfg.tls.acme;
  # (missing files are reported by the module's assertion, not by a failed
  # string interpolation here)
  haveFiles = cfg.tls.certificateFile != null && cfg.tls.keyFile != null;
in
{
  config = lib.mkIf cfg.enable {
    services.traefik = {
      enable = true;
      staticConfigOptions = mp.traefikStatic {
        settings = s;
        inherit (cfg.tls) acme;
      };
      dynamicConfigOptions = mp.traefikDynamic {
        settings = s;
        certificate =
          if ownCertificate then
            {
              certFile = "${credentials}/tls.crt";
              keyFile = "${credentials}/tls.key";
            }
          else
            null;
      };
    };

    systemd.services.traefik = {
      # Start once the upstreams are there (Traefik's health check would
      # mark a missing backend down anyway).
      wants = [
        "${mp.names.units.backend}.service"
        "nginx.service"
      ];
      serviceConfig.LoadCredential = lib.mkIf (ownCertificate && haveFiles) [
        "tls.crt:${cfg.tls.certificateFile}"
        "tls.key:${cfg.tls.keyFile}"
      ];
    };
  };
}
