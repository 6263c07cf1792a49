{
  description = "Main Platform: backend and frontend packages, OCI images, platform wiring";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";
    # The oci host's disk layout (nix/hosts/oci-disk.nix), which nixos-anywhere
    # writes when it installs the host. Pinned in flake.lock to a revision
    # that public lock files carry with the same narHash (README, "Nix").
    disko = {
      url = "github:nix-community/disko/latest";
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };

  outputs =
    {
      self,
      nixpkgs,
      disko,
    }:
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

      # The oci host: the platform module, the disk layout, the host.
      ociModules = [
        self.nixosModules.default
        disko.nixosModules.disko
        ./nix/hosts/oci-disk.nix
        ./nix/hosts/oci.nix
      ];
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
        oci = nixpkgs.lib.nixosSystem { modules = ociModules; };
      }
      # `nix run .#vm`: the same host in a local QEMU VM of each system
      # (nix/hosts/vm.nix says what differs).
      // builtins.listToAttrs (
        map (system: {
          name = "vm-${system}";
          value = nixpkgs.lib.nixosSystem {
            modules = ociModules ++ [ (import ./nix/hosts/vm.nix { inherit system; }) ];
          };
        }) systems
      );
    };
}
