# `nix run .#deploy` against a real NixOS host: a deployer node runs the
# flake's deploy tool (mainplatform-deploy, as `nix run .#deploy` does) over
# SSH against the platform node. The systems it deploys are the server's
# own specialisations (./deploy-systems.nix), so they are built with the
# test and differ from the running system in one thing each:
# - `upgrade`: a harmless change; the deploy ends healthy on it, exit 0;
# - `broken`: a backend that cannot start; the deploy notices, switches the
#   host back to the system it ran before, says so, and exits 1.
{
  common,
  # `nix run .#deploy`'s program (the flake's packages.<system>.deploy)
  deployTool,
  # nixpkgs' nixos/tests/ssh-keys.nix, applied to pkgs
  sshKeys,
}:
{
  name = "mainplatform-deploy";

  nodes = {
    server = {
      imports = [ common ];
      users.users.root.openssh.authorizedKeys.keys = [ sshKeys.snakeOilPublicKey ];
      specialisation = builtins.mapAttrs (_: configuration: { inherit configuration; }) (
        import ./deploy-systems.nix
      );
    };

    deployer =
      { nodes, ... }:
      {
        environment.systemPackages = [
          deployTool
        ];
        # The systems to deploy are in the deployer's store, as after a local
        # build: nix-copy-closure sends them from here.
        system.extraDependencies = [ nodes.server.system.build.toplevel ];
        programs.ssh.extraConfig = ''
          Host *
            StrictHostKeyChecking accept-new
            UserKnownHostsFile /root/.ssh/known_hosts
        '';
      };
  };

  testScript =
    { nodes, ... }:
    let
      s = nodes.server.services.mainplatform.finalSettings;
      toplevel = nodes.server.system.build.toplevel;
    in
    ''
      IP = "${nodes.server.networking.primaryIPAddress}"
      DOMAIN = "${s.domain}"
      BACKEND = ${toString s.ports.backend}
      DEPLOY = f"mainplatform-deploy root@{IP} --domain {DOMAIN} --cacert /tmp/platform-ca.crt"


      def running() -> str:
          return server.succeed("readlink -f /run/current-system").strip()


      start_all()

      with subtest("the platform is up and the deployer can reach it"):
          server.wait_for_unit("mainplatform-backend.service")
          server.wait_for_unit("traefik.service")
          server.wait_until_succeeds(f"curl -sf http://127.0.0.1:{BACKEND}/api/ready", timeout=120)
          cert = server.succeed("cat /run/keys/mainplatform/tls.crt")
          deployer.succeed("cat > /tmp/platform-ca.crt <<'EOF'\n" + cert + "EOF\n")
          deployer.succeed(
              "mkdir -p -m 700 /root/.ssh"
              " && install -m 600 ${sshKeys.snakeOilPrivateKey} /root/.ssh/id_ecdsa"
          )
          deployer.wait_until_succeeds(f"ssh -o BatchMode=yes root@{IP} true", timeout=60)
          before = running()
          upgrade = deployer.succeed("readlink -f ${toplevel}/specialisation/upgrade").strip()
          broken = deployer.succeed("readlink -f ${toplevel}/specialisation/broken").strip()

      with subtest("a good deploy switches and stays"):
          out = deployer.succeed(f"{DEPLOY} --system {upgrade} --timeout 180 2>&1")
          print(out)
          assert running() == upgrade, out
          assert "is healthy" in out, out
          server.succeed("grep -qx upgrade /etc/mainplatform-release")
          profile = server.succeed("readlink -f /nix/var/nix/profiles/system").strip()
          assert profile == upgrade, profile
          assert running() != before

      with subtest("a deploy whose backend cannot start is rolled back"):
          code, out = deployer.execute(f"{DEPLOY} --system {broken} --timeout 60 2>&1")
          print(out)
          assert code == 1, f"exit {code}: {out}"
          assert "rolling back to " + upgrade in out, out
          assert "the previous generation is healthy again" in out, out
          assert running() == upgrade
          profile = server.succeed("readlink -f /nix/var/nix/profiles/system").strip()
          assert profile == upgrade, profile
          server.wait_until_succeeds(f"curl -sf http://127.0.0.1:{BACKEND}/api/ready", timeout=120)
          server.succeed("systemctl is-active mainplatform-backend.service")
    '';
}
