# Every package of the flake for one system.
{
  pkgs,
  platformLib,
  created,
}:

let
  backend = pkgs.callPackage ./backend.nix { };
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
  inherit backend frontend;
  inherit (images) backend-image frontend-image images;
  default = backend;
}
