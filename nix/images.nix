# OCI images (Docker/Podman), built with dockerTools.buildLayeredImage:
# reproducible (fixed `created`, no timestamps from the build), non-root,
# configured through environment variables.
{
  lib,
  dockerTools,
  linkFarm,
  writeText,
  nginx,
  mailcap,
  backend,
  frontend,
  platformLib,
  # ISO-8601; fixed so that the same source gives the same image.
  created ? "1970-01-01T00:00:01Z",
  tag ? backend.version,
}:

let
  uid = 10001;
  gid = 10001;
  user = "mainplatform";

  # /etc/passwd, /etc/group and /etc/nsswitch.conf with root, nobody and the
  # unprivileged user the containers run as.
  nss = dockerTools.fakeNss.override {
    extraPasswdLines = [
      "${user}:x:${toString uid}:${toString gid}:Main Platform:/var/empty:/noshell"
    ];
    extraGroupLines = [ "${user}:x:${toString gid}:" ];
  };

  # A world-writable /tmp (sticky), the only writable path the images need.
  tmpDir = ''
    mkdir -p tmp
    chmod 1777 tmp
  '';

  labels = title: description: {
    "org.opencontainers.image.title" = title;
    "org.opencontainers.image.description" = description;
    "org.opencontainers.image.version" = tag;
    "org.opencontainers.image.licenses" = "MIT";
  };

  backendPort = platformLib.backendSettings.PORT.default;
  frontendPort = 8080;

  backend-image = dockerTools.buildLayeredImage {
    name = "mainplatform-backend";
    inherit tag created;

    contents = [
      nss
      dockerTools.caCertificates
    ];
    extraCommands = tmpDir;

    config = {
      Entrypoint = [ "${backend}/bin/mainplatform" ];
      Cmd = [ "serve" ];
      User = "${toString uid}:${toString gid}";
      WorkingDir = "/tmp";
      ExposedPorts."${toString backendPort}/tcp" = { };
      Env = [
        "HOST=0.0.0.0"
        "PORT=${toString backendPort}"
        # Give these at run time (plain, or *_FILE pointing at a secret):
        #   DATABASE_URL, REDIS_URL, JWT_SECRET_FILE
        "PYTHONUNBUFFERED=1"
        "PYTHONDONTWRITEBYTECODE=1"
        "SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt"
      ];
      Labels = labels "mainplatform-backend" "Main Platform API (Starlette on uvicorn)";
    };
  };

  nginxConf = writeText "nginx.conf" (
    platformLib.nginxMainConf {
      listen = toString frontendPort;
      root = frontend.webRoot;
      serverFragment = frontend.serverFragment;
      mimeTypes = "${mailcap}/etc/nginx/mime.types";
      tempDir = "/tmp";
    }
  );

  frontend-image = dockerTools.buildLayeredImage {
    name = "mainplatform-frontend";
    inherit tag created;

    contents = [ nss ];
    extraCommands = tmpDir;

    config = {
      Entrypoint = [
        "${nginx}/bin/nginx"
        "-e"
        "stderr"
        "-c"
        "${nginxConf}"
      ];
      Cmd = [ ];
      User = "${toString uid}:${toString gid}";
      WorkingDir = "/tmp";
      ExposedPorts."${toString frontendPort}/tcp" = { };
      Env = [ ];
      Labels = labels "mainplatform-frontend" "Main Platform frontend (nginx serving static files)";
      StopSignal = "SIGQUIT";
    };
  };
in
{
  inherit backend-image frontend-image nginxConf;

  # `nix build .#images` -> result/backend.tar.gz, result/frontend.tar.gz
  images = linkFarm "mainplatform-images" {
    "backend.tar.gz" = backend-image;
    "frontend.tar.gz" = frontend-image;
  };
}
