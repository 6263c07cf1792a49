# The module and the hosts evaluated by nixpkgs' real module system against
# nixpkgs' real option declarations, as `nixos-rebuild` would evaluate them,
# without the nixpkgs tree (which cannot be had here).
#
#   nix-instantiate --eval --strict --json tests/modules/real/eval.nix \
#     --arg nixpkgs /path/to/dir -A oci.report
#
# `nixpkgs` is a directory holding nixpkgs' lib/ and the single files listed
# in tests/modules/nixpkgs-files.txt (nixpkgs' code: never committed here).
# Everything a real file declares is checked by that file: an option that
# does not exist, a wrong type, two definitions that clash, a failed
# assertion, all fail with nixpkgs' own message. What no loaded file declares
# is declared by ./stubs.nix, which the tests keep from ever declaring an
# option a real file declares.
{
  nixpkgs,
  # Extra modules for every evaluation (the tests use it to provoke errors).
  extraModules ? [ ],
  # Manifest files not to load as modules (to bisect a failure).
  skip ? [ ],
  # disko's source tree at the revision flake.lock pins (the tier checks its
  # NAR hash against the lock): the oci host's disk layout is disko's.
  disko ? nixpkgs + "/_disko",
}:

let
  lib = import (nixpkgs + "/lib");
  root = ../../..;

  manifest = lib.filter (l: l != "" && !lib.hasPrefix "#" l) (
    lib.splitString "\n" (builtins.readFile ../nixpkgs-files.txt)
  );
  paths = map (l: lib.head (lib.splitString "\t" l)) manifest;
  # The NixOS modules among the files (nixos/lib and pkgs/ are imported by them).
  realModules = map (p: nixpkgs + "/${p}") (
    lib.filter (p: lib.hasPrefix "nixos/modules/" p && !(lib.elem p (notModules ++ skip))) paths
  );
  # Files that are imported by other files rather than being modules.
  notModules = [
    "nixos/modules/services/web-servers/nginx/vhost-options.nix"
    "nixos/modules/services/web-servers/nginx/location-options.nix"
    "nixos/modules/services/monitoring/prometheus/exporters/node.nix"
    "nixos/modules/services/monitoring/prometheus/exporters/postgres.nix"
    "nixos/modules/services/monitoring/prometheus/exporters/redis.nix"
    "nixos/modules/profiles/qemu-guest.nix"
    "nixos/modules/virtualisation/oci-common.nix"
  ];

  # What nixos/modules/misc/extra-arguments.nix and eval-config.nix pass.
  arguments =
    { config, ... }:
    let
      pkgs = import ./fake-pkgs.nix {
        inherit lib nixpkgs;
        inherit (config.nixpkgs) hostPlatform;
      };
    in
    {
      _module.args = {
        inherit pkgs;
        utils = import (nixpkgs + "/nixos/lib/utils.nix") { inherit lib config pkgs; };
        baseModules = [ ];
        extraModules = [ ];
        modules = [ ];
        noUserModules = { };
      };
    };

  # Our own packages are built from the source tree with lib.fileset, which
  # needs Nix >= 2.14 (builtins.readFileType); the Nix here is older, so the
  # two package options get stand-ins with the attributes the module reads.
  packages =
    { pkgs, ... }:
    {
    services.mainplatform = {
      package = pkgs.mainplatform;
      frontendPackage = pkgs.mainplatform-frontend // {
        webRoot = "${pkgs.mainplatform-frontend}/share/mainplatform/frontend/public";
        serverFragment = "${pkgs.mainplatform-frontend}/share/mainplatform/frontend/nginx/server.conf";
      };
    };
    };

  evaluate =
    modules:
    lib.evalModules {
      modules =
        realModules
        ++ [
          arguments
          ./stubs.nix
        ]
        ++ modules
        ++ extraModules;
      specialArgs = {
        modulesPath = nixpkgs + "/nixos/modules";
      };
    };

  # The flake's outputs as the VM tests see them (nix/tests/common.nix).
  self.nixosModules = {
    default = root + "/modules";
    host-policy = root + "/modules/host-policy.nix";
  };

  ours = import ./report.nix { inherit lib; };

  # What pkgs.testers.runNixOSTest sets on every node that matters here
  # (networking.primaryIPAddress is declared by nixos/lib/testing, stubbed).
  framework = address: {
    nixpkgs.hostPlatform = "x86_64-linux";
    networking.hostName = "server";
    networking.primaryIPAddress = address;
    system.stateVersion = lib.trivial.release;
  };
  tests = root + "/nix/tests";
  common = import (tests + "/common.nix") { inherit self; };
  deploySystems = import (tests + "/deploy-systems.nix");
  # nixosConfigurations.oci: flake.nix's ociModules (the module, disko's
  # module with the disk layout, the host).
  ociModules = [
    (root + "/modules")
    (disko + "/module.nix")
    (root + "/nix/hosts/oci-disk.nix")
    (root + "/nix/hosts/oci.nix")
  ];
in
{
  inherit lib;

  # nixosConfigurations.oci: flake.nix's ociModules.
  oci = ours (evaluate ([ packages ] ++ ociModules));

  # `nix run .#vm`: the oci host for this machine in a QEMU VM (flake.nix's
  # nixosConfigurations.vm-x86_64-linux; the VM's own options live in
  # virtualisation.vmVariant, declared by nixos/modules/virtualisation/
  # build-vm.nix, which is not loaded: stubbed).
  vm =
    let
      e = evaluate (
        [ packages ]
        ++ ociModules
        ++ [ (import (root + "/nix/hosts/vm.nix") { system = "x86_64-linux"; }) ]
      );
    in
    ours e // { inherit (e.config.virtualisation.vmVariant.virtualisation) forwardPorts; };

  # The server node of the platform and hardening tests (nix/tests/common.nix).
  vmServer = ours (evaluate [
    packages
    common
    (framework "192.168.1.2")
  ]);

  # vm-https's server node: ACME from the pebble node (stood in by `nodes`).
  vmHttpsServer = ours (evaluate [
    packages
    (import (tests + "/https.nix") {
      node = import (tests + "/node.nix") { inherit self; };
      acmeServer = null;
    }).nodes.server
    (framework "192.168.1.2")
    {
      _module.args.nodes.acme = {
        # what nixos/tests/common/acme/server declares
        test-support.acme = {
          caDomain = "acme.test";
          caCert = "/nix/store/00000000000000000000000000000000-ca.cert.pem";
        };
        networking.primaryIPAddress = "192.168.1.1";
      };
    }
  ]);

  # vm-deploy's server node, and the two systems it deploys (its
  # specialisations, each evaluated as the whole system it is).
  vmDeployServer = ours (evaluate [
    packages
    (import (tests + "/deploy.nix") {
      inherit common;
      deployTool = null;
      sshKeys.snakeOilPublicKey = "ecdsa-sha2-nistp256 AAAA snakeoil";
    }).nodes.server
    (framework "192.168.1.2")
  ]);
  vmDeployUpgrade = ours (evaluate [
    packages
    common
    deploySystems.upgrade
    (framework "192.168.1.2")
  ]);
  vmDeployBroken = ours (evaluate [
    packages
    common
    deploySystems.broken
    (framework "192.168.1.2")
  ]);

  inherit evaluate;
}
