{
  description = "Main Platform: backend and frontend packages, OCI images, platform wiring";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;

      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      # The platform's wiring: pure functions, builtins only (nix/lib).
      platformLib = import ./nix/lib;

      # Images carry the commit's date, so the same commit gives the same image.
      date = self.lastModifiedDate or "19700101000001";
      part = start: len: builtins.substring start len date;
      created = "${part 0 4}-${part 4 2}-${part 6 2}T${part 8 2}:${part 10 2}:${part 12 2}Z";
    in
    {
      lib = platformLib;

      packages = forAllSystems (pkgs: import ./nix/packages { inherit pkgs platformLib created; });

      checks = forAllSystems (
        pkgs:
        import ./nix/checks.nix {
          inherit pkgs platformLib;
          packages = self.packages.${pkgs.stdenv.hostPlatform.system};
        }
      );

      devShells = forAllSystems (pkgs: {
        default = import ./nix/devshell.nix { inherit pkgs; };
      });

      formatter = forAllSystems (pkgs: pkgs.nixfmt-tree);

      # The NixOS module (modules/) and its VM tests come in a later change:
      #   nixosModules.default, nixosConfigurations.oci, checks.<system>.vm-*
    };
}
