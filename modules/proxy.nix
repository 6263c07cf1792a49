# Traefik: the only public listener (80 and 443). Static and dynamic
# configuration are nix/lib's traefikStatic/traefikDynamic for this host;
# the ACME account and certificates live in Traefik's dataDir.
{
  config,
  lib,
  ...
}:

let
  cfg = config.services.mainplatform;
  mp = import ./lib.nix;
  s = cfg.finalSettings;

  # Without ACME, Traefik reads the certificate and key from its systemd
  # credentials, so the key file itself can stay root-only.
  credentials = mp.names.credentialsDir "traefik";
  ownCertificate = !cfg.tls.acme;
  # (the module's assertion reports missing files; this keeps evaluation
  # from failing on them first)
  haveFiles = cfg.tls.certificateFile != null && cfg.tls.keyFile != null;
in
{
  config = lib.mkIf cfg.enable {
    services.traefik = {
      enable = true;
      static.settings = mp.traefikStatic {
        settings = s;
        inherit (cfg.tls) acme;
      };
      # The nixpkgs module links each file into dynamic.dir and points the
      # file provider (watch = true) at that directory.
      dynamic.dir = "${config.services.traefik.dataDir}/dynamic";
      dynamic.files.mainplatform.settings = mp.traefikDynamic (
        {
          settings = s;
          inherit (cfg.tls) acme;
        }
        // lib.optionalAttrs ownCertificate {
          certificateFile = "${credentials}/tls.crt";
          keyFile = "${credentials}/tls.key";
        }
      );
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
