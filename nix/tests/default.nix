# The NixOS VM tests (pkgs.testers.runNixOSTest), wired into
# checks.x86_64-linux by flake.nix: they need KVM, so they run where Nix and
# KVM are available (`nix flake check`, or `nix build .#checks.x86_64-linux.vm-platform`).
{
  pkgs,
  self,
}:

let
  common = import ./common.nix { inherit self; };
  run = test: pkgs.testers.runNixOSTest test;
in
{
  vm-platform = run (
    import ./platform.nix {
      inherit common;
      hasAlerts = builtins.pathExists ../observability/alerts.yml;
      hasDashboards = builtins.pathExists ../observability/dashboards;
    }
  );

  vm-hardening = run (import ./hardening.nix { inherit common; });
}
