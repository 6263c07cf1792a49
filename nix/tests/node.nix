# The platform node of every VM test: the flake's module in production mode
# with the host policy, as on a real host, sized for a test VM. How it gets
# its certificate is up to the test: ./common.nix adds a self-signed one,
# ./https.nix a pebble CA node. The platform's own secrets are the module's:
# created on first boot by mainplatform-secrets.service. Nothing secret is
# in the Nix store.
{ self }:
{ pkgs, ... }:
{
  imports = [
    self.nixosModules.default
    self.nixosModules.host-policy
  ];

  virtualisation = {
    memorySize = 3072;
    cores = 2;
    diskSize = 4096;
  };

  services.mainplatform = {
    enable = true;
    domain = "platform.test";
    acmeEmail = "ops@platform.test";
    workers = 2;
  };

  environment.systemPackages = [
    pkgs.curl
    pkgs.jq
    pkgs.openssl
  ];
}
