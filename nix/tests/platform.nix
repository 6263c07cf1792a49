# End to end: one server with the whole platform, one client on the same
# network. Every unit comes up; the client reaches the site only through
# Traefik on 80/443 (HTTP redirected, HTTPS with the server's certificate),
# registers and logs in; /metrics is not routed but Prometheus scrapes it on
# loopback; every scrape target is up; every internal port is closed to the
# client and bound to loopback; the backup writes its dumps and the metric
# that Prometheus then sees.
{ common }:
{
  name = "mainplatform-platform";

  nodes = {
    server = common;
    client =
      { pkgs, ... }:
      {
        environment.systemPackages = [
          pkgs.curl
          pkgs.jq
        ];
      };
  };

  testScript =
    { nodes, ... }:
    let
      ip = nodes.server.networking.primaryIPAddress;
      ports = nodes.server.services.mainplatform.finalSettings.ports;
      # Every port the platform listens on besides SSH, HTTP and HTTPS.
      internal = map (name: ports.${name}) [
        "backend"
        "frontend"
        "traefikMetrics"
        "prometheus"
        "grafana"
        "nodeExporter"
        "postgresExporter"
        "redisExporter"
      ];
      list = l: "[${builtins.concatStringsSep ", " (map toString l)}]";
      grafanaPassword = nodes.server.services.mainplatform.grafana.adminPasswordFile;
    in
    ''
      import json
      import time

      IP = "${ip}"
      RESOLVE = f"--resolve platform.test:443:{IP} --resolve platform.test:80:{IP}"
      CURL = f"curl --silent --show-error --max-time 10 {RESOLVE} --cacert /tmp/platform-ca.crt"
      BACKEND = ${toString ports.backend}
      PROMETHEUS = ${toString ports.prometheus}
      GRAFANA = ${toString ports.grafana}
      NODE_EXPORTER = ${toString ports.nodeExporter}
      INTERNAL_PORTS = ${list internal}
      PUBLIC_PORTS = ${list [ ports.ssh ports.web ports.websecure ]}
      DATABASE_PORTS = ${list [ ports.postgres ports.redis ]}


      def until(check, what, timeout=180):
          deadline = time.monotonic() + timeout
          last = None
          while time.monotonic() < deadline:
              try:
                  result = check()
                  if result:
                      return result
              except Exception as exc:  # noqa: BLE001 - retried until the deadline
                  last = exc
              time.sleep(2)
          raise AssertionError(f"timed out waiting for {what} (last error: {last!r})")


      start_all()

      with subtest("every unit of the platform is active"):
          for unit in [
              "mainplatform-self-signed-tls.service",
              "mainplatform-secrets.service",
              "postgresql.target",
              "redis-mainplatform.service",
              "mainplatform-backend.service",
              "nginx.service",
              "traefik.service",
              "prometheus.service",
              "prometheus-node-exporter.service",
              "prometheus-postgres-exporter.service",
              "prometheus-redis-exporter.service",
              "grafana.service",
              "fail2ban.service",
              "sshd.service",
          ]:
              server.wait_for_unit(unit)
          server.succeed("systemctl is-active mainplatform-backup.timer")
          for port in INTERNAL_PORTS:
              server.wait_for_open_port(port, "127.0.0.1")
          server.wait_for_open_port(443)
          server.wait_until_succeeds(f"curl -sf http://127.0.0.1:{BACKEND}/api/ready", timeout=120)
          client.wait_for_unit("multi-user.target")

      with subtest("the client trusts the server's (test) certificate"):
          cert = server.succeed("cat /run/keys/mainplatform/tls.crt")
          client.succeed("cat > /tmp/platform-ca.crt <<'EOF'\n" + cert + "EOF\n")

      with subtest("HTTP is redirected to HTTPS"):
          out = client.succeed(f"{CURL} -o /dev/null -w '%{{http_code}} %{{redirect_url}}' http://platform.test/notes")
          code, location = out.split(" ", 1)
          assert code in ("301", "308"), out
          assert location.startswith("https://platform.test/"), out

      with subtest("/ is the frontend, through Traefik, with security headers"):
          client.wait_until_succeeds(f"{CURL} -f https://platform.test/ -o /dev/null", timeout=120)
          headers = client.succeed(f"{CURL} -f -D - -o /tmp/index.html https://platform.test/").lower()
          assert "strict-transport-security" in headers, headers
          assert "content-security-policy" in headers, headers
          assert "x-content-type-options: nosniff" in headers, headers
          client.succeed("grep -qi '<html' /tmp/index.html")
          # SPA fallback: an app route is index.html too.
          client.succeed(f"{CURL} -f https://platform.test/notes | grep -qi '<html'")

      with subtest("/api/health answers through Traefik"):
          health = json.loads(client.succeed(f"{CURL} -f https://platform.test/api/health"))
          assert health, health

      with subtest("register, log in and read the own account through Traefik"):
          creds = json.dumps({"email": "alice@example.org", "password": "vm-test lanterns 7 over the harbour"})
          post = f"{CURL} -H 'Content-Type: application/json' -X POST"
          code = client.succeed(
              f"{post} -o /tmp/register.json -w '%{{http_code}}' --data '{creds}' https://platform.test/api/auth/register"
          )
          assert code == "201", code + client.succeed("cat /tmp/register.json")
          login = json.loads(
              client.succeed(f"{post} -f -c /tmp/cookies --data '{creds}' https://platform.test/api/auth/login")
          )
          token = login["access_token"]
          me = json.loads(
              client.succeed(f"{CURL} -f -H 'Authorization: Bearer {token}' https://platform.test/api/users/me")
          )
          assert me["email"] == "alice@example.org", me
          # The refresh cookie is Secure, HttpOnly and scoped to /api/auth.
          jar = client.succeed("cat /tmp/cookies")
          assert "#HttpOnly_platform.test" in jar and "/api/auth\tTRUE" in jar, jar

      with subtest("/metrics is not reachable through the proxy"):
          out = client.succeed(f"{CURL} -o /tmp/metrics.out -w '%{{http_code}}' https://platform.test/metrics")
          assert out == "404", out
          client.fail("grep -q mainplatform_http_requests_total /tmp/metrics.out")

      with subtest("/metrics is served on loopback and counts the requests above"):
          server.succeed(f"curl -sf http://127.0.0.1:{BACKEND}/metrics | grep -q 'mainplatform_http_requests_total{{'")

      with subtest("every Prometheus target is up"):
          expected = {"backend", "traefik", "prometheus", "node", "postgres", "redis"}

          def targets_up():
              data = json.loads(server.succeed(f"curl -sf http://127.0.0.1:{PROMETHEUS}/api/v1/targets"))
              active = data["data"]["activeTargets"]
              health = {t["labels"]["job"]: t["health"] for t in active}
              return set(health) == expected and all(h == "up" for h in health.values())

          until(targets_up, "all Prometheus targets up", timeout=240)
          rules = server.succeed(f"curl -sf http://127.0.0.1:{PROMETHEUS}/api/v1/rules")
          assert "BackendDown" in rules, "alert rules are not loaded"

      with subtest("Grafana: loopback only, no anonymous access, provisioned"):
          grafana = f"http://127.0.0.1:{GRAFANA}"
          server.wait_until_succeeds(f"curl -sf {grafana}/api/health", timeout=120)
          server.succeed(f"test \"$(curl -s -o /dev/null -w '%{{http_code}}' {grafana}/api/search)\" = 401")
          auth = "-u admin:$(cat ${grafanaPassword})"
          ds = json.loads(server.succeed(f"curl -sf {auth} {grafana}/api/datasources/uid/prometheus"))
          assert ds["url"] == f"http://127.0.0.1:{PROMETHEUS}", ds
          found = json.loads(server.succeed(f"curl -sf {auth} '{grafana}/api/search?type=dash-db'"))
          assert len(found) > 0, "no dashboard was provisioned"

      with subtest("the firewall: 80 and 443 (and 22) are open, nothing else"):
          for port in PUBLIC_PORTS:
              client.succeed(f"timeout 5 bash -c '</dev/tcp/{IP}/{port}'")
          for port in INTERNAL_PORTS + DATABASE_PORTS:
              client.fail(f"timeout 5 bash -c '</dev/tcp/{IP}/{port}'")

      with subtest("every listener but 22, 80 and 443 is bound to loopback"):
          listeners = server.succeed("ss -Htln | awk '{print $4}'").split()
          public = {str(p) for p in PUBLIC_PORTS}
          for address in listeners:
              host, _, listening = address.rpartition(":")
              if listening in public:
                  continue
              assert host in ("127.0.0.1", "[::1]"), f"{address} is not on loopback"

      with subtest("the backup writes both dumps and the freshness metric"):
          server.succeed("systemctl start mainplatform-backup.service")
          server.succeed("ls /var/lib/mainplatform/backups/postgres-*.dump")
          server.succeed("ls /var/lib/mainplatform/backups/redis-*.rdb")
          server.succeed("test \"$(stat -c %a /var/lib/mainplatform/backups)\" = 700")
          server.succeed(
              f"curl -sf http://127.0.0.1:{NODE_EXPORTER}/metrics"
              " | grep -q 'mainplatform_backup_last_success_timestamp_seconds{kind=\"postgres\"}'"
          )

          def backup_metric_in_prometheus():
              q = "mainplatform_backup_last_success_timestamp_seconds"
              data = json.loads(server.succeed(f"curl -sf 'http://127.0.0.1:{PROMETHEUS}/api/v1/query?query={q}'"))
              kinds = {r["metric"].get("kind") for r in data["data"]["result"]}
              return {"postgres", "redis"} <= kinds

          until(backup_metric_in_prometheus, "the backup metric in Prometheus", timeout=120)

      with subtest("the dump restores"):
          # The dumps are readable by the platform's user only (mode 0700
          # directory): restore as that user, into a database it owns.
          server.succeed(
              "f=$(ls /var/lib/mainplatform/backups/postgres-*.dump | head -n1);"
              " runuser -u postgres -- createdb -O mainplatform restorecheck"
              " && runuser -u mainplatform -- pg_restore --no-owner -d restorecheck \"$f\""
              " && runuser -u mainplatform -- psql -tA -d restorecheck -c 'select count(*) from users' | grep -qx 1"
          )
    '';
}
