# The two systems the vm-deploy test deploys, as specialisations of the
# server node (so they are built with the test): each differs from the
# running system in one thing. tests/modules/real evaluates both against
# nixpkgs' real declarations.
{
  # A harmless change: the deploy must end healthy on it.
  upgrade = {
    environment.etc."mainplatform-release".text = "upgrade";
  };

  # A backend that cannot start: the deploy must roll it back.
  broken =
    { lib, pkgs, ... }:
    {
      systemd.services.mainplatform-backend.serviceConfig.ExecStart = lib.mkForce "${pkgs.coreutils}/bin/false";
    };
}
