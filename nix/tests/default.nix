# The NixOS VM tests (pkgs.testers.runNixOSTest), wired into
# checks.x86_64-linux by flake.nix: they need KVM, so they run where Nix and
# KVM are available (`nix flake check`, or `nix build .#checks.x86_64-linux.vm-platform`).
#
# Each test also has a `-driver` check: the test driver alone, whose build
# type-checks the testScript (mypy) and lints it (pyflakes) and evaluates
# every node, without starting a VM (`nix flake check --no-build` evaluates
# them all; `nix build .#checks.x86_64-linux.vm-platform-driver` runs the
# script checks).
{
  pkgs,
  self,
}:

let
  node = import ./node.nix { inherit self; };
  common = import ./common.nix { inherit self; };
  run = file: args: pkgs.testers.runNixOSTest (import file args);
  tests = {
    vm-platform = run ./platform.nix { inherit common; };
    vm-hardening = run ./hardening.nix { inherit common; };
    # nixpkgs' own ACME test CA node (pebble and the network's resolver).
    vm-https = run ./https.nix {
      inherit node;
      acmeServer = pkgs.path + "/nixos/tests/common/acme/server";
    };
    vm-deploy = run ./deploy.nix {
      inherit common;
      deployTool = self.packages.${pkgs.stdenv.hostPlatform.system}.deploy;
      sshKeys = import (pkgs.path + "/nixos/tests/ssh-keys.nix") pkgs;
    };
    vm-recovery = run ./recovery.nix { inherit common; };
  };
in
tests
// builtins.listToAttrs (
  map (name: {
    name = "${name}-driver";
    value = tests.${name}.driver;
  }) (builtins.attrNames tests)
)
