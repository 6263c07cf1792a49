# HTTPS from an ACME CA, the way nixpkgs tests its own ACME clients
# (nixos/tests/acme/): a pebble node (nixpkgs' nixos/tests/common/acme/server,
# which also runs the test network's DNS resolver), the platform node, whose
# Traefik orders its certificate from that CA by HTTP-01 exactly as in
# production (only tls.acmeServer and the trusted root differ), and a client
# that trusts pebble's roots. Then: the site and the API over verified
# HTTPS, port 80 redirected, HSTS and the security headers, acme.json kept
# (0600), and a restart with the CA gone serving the stored certificate.
{
  node,
  # nixpkgs' nixos/tests/common/acme/server (a path, from nix/tests/default.nix)
  acmeServer,
}:
{
  name = "mainplatform-https";

  nodes = {
    acme = {
      imports = [ acmeServer ];
    };

    server =
      { config, nodes, ... }:
      {
        imports = [ node ];
        services.mainplatform.tls.acmeServer = "https://${nodes.acme.test-support.acme.caDomain}/dir";
        # Traefik's ACME client trusts the system roots: add the CA API's.
        security.pki.certificateFiles = [ nodes.acme.test-support.acme.caCert ];
        # acme.test resolves through the acme node, whose resolver also
        # serves every node's extraHosts: so the CA finds platform.test here.
        networking.nameservers = [ nodes.acme.networking.primaryIPAddress ];
        networking.extraHosts = ''
          ${config.networking.primaryIPAddress} ${config.services.mainplatform.domain}
        '';
      };

    client =
      { nodes, pkgs, ... }:
      {
        security.pki.certificateFiles = [ nodes.acme.test-support.acme.caCert ];
        networking.nameservers = [ nodes.acme.networking.primaryIPAddress ];
        environment.systemPackages = [
          pkgs.curl
          pkgs.jq
          pkgs.openssl
        ];
      };
  };

  testScript =
    { nodes, ... }:
    let
      s = nodes.server.services.mainplatform.finalSettings;
    in
    ''
      import json

      DOMAIN = "${s.domain}"
      IP = "${nodes.server.networking.primaryIPAddress}"
      CA_DOMAIN = "${nodes.acme.test-support.acme.caDomain}"
      BACKEND = ${toString s.ports.backend}
      HSTS_MAX_AGE = ${toString s.hsts.maxAge}
      ACME_STORE = "${s.paths.acmeStorage}"
      ROOTS = "/tmp/pebble-roots.pem"
      # The client reaches the server by address (the domain pinned to it), so
      # the last subtest works with the CA node, and its resolver, gone.
      CURL = f"curl --silent --show-error --max-time 10 --resolve {DOMAIN}:443:{IP} --resolve {DOMAIN}:80:{IP} --cacert {ROOTS}"
      TLS = f"openssl s_client -connect {IP}:443 -servername {DOMAIN} < /dev/null 2>/dev/null"


      def served_certificate() -> str:
          """Serial and fingerprint of what the server presents for DOMAIN."""
          return client.succeed(f"{TLS} | openssl x509 -noout -serial -fingerprint -sha256").strip()


      # The CA and the network's resolver first (nixos/tests/common/acme/server).
      acme.start()
      acme.wait_for_unit("bind.service")
      acme.wait_for_unit("pebble.service")
      acme.wait_for_open_port(443)
      server.start()
      client.start()

      with subtest("the platform comes up"):
          server.wait_for_unit("mainplatform-secrets.service")
          server.wait_for_unit("traefik.service")
          server.wait_for_unit("mainplatform-backend.service")
          server.wait_until_succeeds(f"curl -sf http://127.0.0.1:{BACKEND}/api/ready", timeout=120)

      with subtest("the client trusts the root pebble issues under"):
          client.wait_until_succeeds(f"curl -sf https://{CA_DOMAIN}:15000/roots/0 -o {ROOTS}", timeout=60)

      with subtest("Traefik gets its certificate from the CA by HTTP-01"):
          client.wait_until_succeeds(
              f"openssl s_client -brief -CAfile {ROOTS} -verify 3 -verify_return_error"
              f" -verify_hostname {DOMAIN} -servername {DOMAIN} -connect {IP}:443 < /dev/null",
              timeout=180,
          )
          issuer = client.succeed(f"{TLS} | openssl x509 -noout -issuer")
          assert "pebble" in issuer.lower(), issuer
          client.succeed(f"{TLS} | openssl x509 -noout -checkhost {DOMAIN} | grep -q 'does match'")

      with subtest("the app and the API over verified HTTPS, with HSTS and the security headers"):
          headers = client.succeed(f"{CURL} -f -D - -o /tmp/index.html https://{DOMAIN}/").lower()
          assert f"strict-transport-security: max-age={HSTS_MAX_AGE}" in headers, headers
          assert "content-security-policy" in headers, headers
          assert "x-content-type-options: nosniff" in headers, headers
          client.succeed("grep -qi '<html' /tmp/index.html")
          health = json.loads(client.succeed(f"{CURL} -f https://{DOMAIN}/api/health"))
          assert health["status"] == "ok", health
          api = client.succeed(f"{CURL} -f -D - -o /dev/null https://{DOMAIN}/api/health").lower()
          assert "strict-transport-security" in api and "x-content-type-options: nosniff" in api, api

      with subtest("port 80 redirects to https"):
          out = client.succeed(f"{CURL} -o /dev/null -w '%{{http_code}} %{{redirect_url}}' http://{DOMAIN}/notes")
          code, location = out.split(" ", 1)
          assert code in ("301", "308"), out
          assert location == f"https://{DOMAIN}/notes", out

      with subtest("a restart with the CA gone serves the certificate stored in acme.json"):
          server.succeed(f"test \"$(stat -c %a {ACME_STORE})\" = 600")
          server.succeed(f"jq -e '[.[].Certificates[]?.domain.main] | index(\"{DOMAIN}\")' {ACME_STORE}")
          first = served_certificate()
          acme.crash()
          server.succeed("systemctl restart traefik.service")
          server.wait_for_open_port(443)
          client.wait_until_succeeds(f"{CURL} -f https://{DOMAIN}/api/health", timeout=60)
          assert served_certificate() == first, "Traefik ordered a new certificate instead of reusing acme.json"
    '';
}
