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
  inherit backend dev frontend;
  inherit (images) backend-image frontend-image images;
  default = backend;
}
