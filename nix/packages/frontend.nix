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
  # The static files live in frontend/public or frontend/dist when the
  # frontend has such a directory with an index.html, else in frontend/.
  webSubdir =
    lib.findFirst (d: builtins.pathExists (source + "/${d}/index.html")) "" [
      "public"
      "dist"
    ];
  share = "share/mainplatform/frontend";
  self = runCommand "mainplatform-frontend" {
    src = lib.fileset.toSource {
      root = source;
      fileset = source;
    };
    passthru = {
      webRoot = "${self}/${share}${lib.optionalString (webSubdir != "") "/${webSubdir}"}";
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
    test -f $out/${share}/nginx/server.conf || {
      echo "frontend/nginx/server.conf is missing" >&2
      exit 1
    }
  '';
in
self
