# The server node of the platform, hardening and deploy VM tests: ./node.nix
# with one test-only change: TLS from a self-signed certificate instead of
# ACME (../hosts/self-signed-tls.nix; ./https.nix tests ACME itself, against
# a CA node).
{ self }:
{
  imports = [
    (import ./node.nix { inherit self; })
    ../hosts/self-signed-tls.nix
  ];
}
