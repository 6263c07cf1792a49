# nginx configuration for the frontend. The frontend ships a fragment
# (frontend/nginx/server.conf) valid inside `server { }`: everything but
# `listen`, `root` and the /api proxy. This wraps it into a complete
# nginx.conf that runs unprivileged and in the foreground.
let
  settingsLib = import ./settings.nix;
  util = import ./util.nix;
  inherit (settingsLib) mkSettings;
in
rec {
  # A complete nginx.conf, as a string.
  #   listen          what `listen` gets, e.g. "127.0.0.1:8081" or "8080"
  #   root            directory of the static files
  #   serverFragment  path of frontend/nginx/server.conf
  #   mimeTypes       path of nginx's mime.types
  #   tempDir         writable directory for pid and temporary files
  #   apiUpstream     if not null, proxy /api to this URL (prefix kept)
  mainConf =
    {
      listen,
      root,
      serverFragment,
      mimeTypes,
      tempDir ? "/tmp/nginx",
      apiUpstream ? null,
      accessLog ? "/dev/stdout",
      workerProcesses ? "1",
    }:
    ''
      daemon off;
      worker_processes ${workerProcesses};
      pid ${tempDir}/nginx.pid;
      error_log stderr warn;

      events {
        worker_connections 1024;
      }

      http {
        include ${mimeTypes};
        types_hash_max_size 4096;
        default_type application/octet-stream;

        access_log ${accessLog};
        sendfile on;
        tcp_nopush on;
        keepalive_timeout 65;
        server_tokens off;

        client_body_temp_path ${tempDir}/client_body;
        proxy_temp_path ${tempDir}/proxy;
        fastcgi_temp_path ${tempDir}/fastcgi;
        uwsgi_temp_path ${tempDir}/uwsgi;
        scgi_temp_path ${tempDir}/scgi;

        server {
          listen ${listen};
          root ${root};
      ${
        if apiUpstream == null then
          ""
        else
          ''
            location /api {
              proxy_pass ${apiUpstream};
              proxy_http_version 1.1;
              proxy_set_header Host $http_host; # with the port: the backend compares Origin with it
              proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
              proxy_set_header X-Forwarded-Proto $scheme;
              proxy_set_header X-Request-Id $http_x_request_id;
            }
          ''
      }
          include ${serverFragment};
        }
      }
    '';

  # The frontend's nginx.conf for the platform (host or local stack):
  # listens on the internal address and frontend port from settings.
  frontendConf =
    settings: args:
    let
      s = mkSettings settings;
    in
    mainConf (
      {
        listen = util.hostPort s.internalAddress s.ports.frontend;
        tempDir = "${s.paths.stateDir}/nginx";
      }
      // args
    );
}
