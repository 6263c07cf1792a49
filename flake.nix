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

      # VM tests of the module (nix/tests) need KVM: x86_64-linux only.
      checks = forAllSystems (
        pkgs:
        import ./nix/checks.nix {
          inherit pkgs platformLib;
          inherit (self) nixosConfigurations;
          packages = self.packages.${pkgs.stdenv.hostPlatform.system};
        }
        // lib.optionalAttrs (pkgs.stdenv.hostPlatform.system == "x86_64-linux") (
          import ./nix/tests { inherit pkgs self; }
        )
      );

      apps = forAllSystems (
        pkgs:
        import ./nix/apps.nix {
          inherit pkgs;
          packages = self.packages.${pkgs.stdenv.hostPlatform.system};
          vm = self.nixosConfigurations."vm-${pkgs.stdenv.hostPlatform.system}";
        }
      );

      devShells = forAllSystems (pkgs: {
        default = import ./nix/devshell.nix { inherit pkgs; };
      });

      formatter = forAllSystems (pkgs: pkgs.nixfmt-tree);

      # The NixOS module (modules/): services.mainplatform, and the opt-in
      # host policy (SSH keys only, fail2ban, kernel and Nix settings).
      nixosModules = {
        mainplatform = ./modules;
        default = self.nixosModules.mainplatform;
        host-policy = ./modules/host-policy.nix;
      };

      # The Oracle Cloud Ampere A1 host: nixos-rebuild switch --flake .#oci
      # (nixpkgs.hostPlatform is set in the host file.)
      nixosConfigurations = {
        oci = nixpkgs.lib.nixosSystem {
          modules = [
            self.nixosModules.default
            ./nix/hosts/oci.nix
          ];
        };
      }
      # `nix run .#vm`: the same host in a local QEMU VM of each system
      # (nix/hosts/vm.nix says what differs).
      // builtins.listToAttrs (
        map (system: {
          name = "vm-${system}";
          value = nixpkgs.lib.nixosSystem {
            modules = [
              self.nixosModules.default
              ./nix/hosts/oci.nix
              (import ./nix/hosts/vm.nix { inherit system; })
            ];
          };
        }) systems
      );
    };
}
