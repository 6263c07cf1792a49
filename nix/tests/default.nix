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
  common = import ./common.nix { inherit self; };
  tests = {
    vm-platform = pkgs.testers.runNixOSTest (import ./platform.nix { inherit common; });
    vm-hardening = pkgs.testers.runNixOSTest (import ./hardening.nix { inherit common; });
    vm-recovery = pkgs.testers.runNixOSTest (import ./recovery.nix { inherit common; });
  };
in
tests
// builtins.listToAttrs (
  map (name: {
    name = "${name}-driver";
    value = tests.${name}.driver;
  }) (builtins.attrNames tests)
)
