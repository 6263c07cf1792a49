# The frontend: nginx on loopback (internalAddress:ports.frontend) serving
# the static app, with the frontend's own fragment (frontend/nginx/server.conf:
# caching, security headers, SPA fallback) included inside the server block.
# Traefik is the only client.
{
  config,
  lib,
  ...
}:

let
  cfg = config.services.mainplatform;
  s = cfg.finalSettings;
  frontend = cfg.frontendPackage;
  inherit (frontend) webRoot serverFragment;
in
{
  config = lib.mkIf cfg.enable {
    services.nginx = {
      enable = true;
      virtualHosts.mainplatform-frontend = {
        serverName = s.domain;
        default = true;
        listen = [
          {
            addr = s.internalAddress;
            port = s.ports.frontend;
          }
        ];
        root = webRoot;
        extraConfig = ''
          include ${serverFragment};
        '';
      };
    };
  };
}
