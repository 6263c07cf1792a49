# The frontend: its static files and its nginx fragment, copied into the store.
#   $out/share/mainplatform/frontend/       the frontend/ directory as is
#   passthru.webRoot                        directory nginx serves as `root`
#   passthru.serverFragment                 frontend/nginx/server.conf
{
  lib,
  runCommand,
}:

let
  source = ../../frontend;
  share = "share/mainplatform/frontend";
  self = runCommand "mainplatform-frontend" {
    src = lib.fileset.toSource {
      root = source;
      fileset = source;
    };
    passthru = {
      webRoot = "${self}/${share}/public";
      serverFragment = "${self}/${share}/nginx/server.conf";
    };
    meta = {
      description = "Main Platform frontend (static files and nginx fragment)";
      license = lib.licenses.mit;
      platforms = lib.platforms.all;
    };
  } ''
    mkdir -p $out/${share}
    cp -r $src/. $out/${share}/
  '';
in
self
