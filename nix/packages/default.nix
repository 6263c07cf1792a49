# Every package of the flake for one system.
{
  pkgs,
  platformLib,
  created,
}:

let
  backend = pkgs.callPackage ./backend.nix { };
  # The local stack (`nix run .#dev`); never part of an image or a host.
  dev = pkgs.callPackage ./dev.nix { inherit backend; };
  deploy = pkgs.callPackage ./deploy.nix { inherit dev; };
  frontend = pkgs.callPackage ./frontend.nix { };
  images = pkgs.callPackage ../images.nix {
    inherit
      backend
      frontend
      platformLib
      created
      ;
  };
in
{
  inherit
    backend
    deploy
    dev
    frontend
    ;
  inherit (images) backend-image frontend-image images;
  default = backend;
}
