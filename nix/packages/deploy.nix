# `nix run .#deploy -- root@<ip>`: switch a host to the flake's configuration,
# check it, roll back when it is unhealthy (backend/dev: mainplatform_dev.deploy).
# A package of its own so that the vm-deploy test runs exactly this program.
{
  writeShellApplication,
  dev,
  nix,
  nixos-rebuild,
  openssh,
  curl,
}:

writeShellApplication {
  name = "mainplatform-deploy";
  runtimeInputs = [
    dev
    nix # nix eval (the domain), nix-copy-closure (--system)
    nixos-rebuild
    openssh
    curl
  ];
  text = ''
    exec ${dev}/bin/mainplatform-deploy "$@"
  '';
}
