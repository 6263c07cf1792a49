# The platform's own units are sandboxed and its secrets stay out of the
# store, the unit files and the process environment: systemd-analyze
# rates the backend's exposure, it runs as its own user without
# capabilities, the JWT key arrives only as a credential, and PostgreSQL
# and Redis refuse anyone who is not meant to connect.
{ common }:
{
  name = "mainplatform-hardening";

  nodes.server = common;

  testScript =
    { nodes, ... }:
    let
      inherit (nodes.server.services.mainplatform.finalSettings.ports) backend;
      jwt = nodes.server.services.mainplatform.secrets.jwtSecretFile;
    in
    ''
    READY = "curl -sf http://127.0.0.1:${toString backend}/api/ready"

    start_all()
    server.wait_for_unit("mainplatform-backend.service")
    server.wait_until_succeeds(READY, timeout=120)

    with subtest("the backend is sandboxed"):
        # systemd-analyze prints e.g. "→ Overall exposure level for ...: 1.9 OK"
        out = server.succeed("systemd-analyze security mainplatform-backend.service --no-pager | tail -n1")
        score = float(out.split(":")[-1].split()[0])
        assert score <= 4.0, f"exposure too high: {out}"
        server.succeed("systemctl show -p ProtectSystem mainplatform-backup.service | grep -qx ProtectSystem=strict")

    with subtest("it runs as mainplatform with no capabilities"):
        pid = server.succeed("systemctl show -p MainPID --value mainplatform-backend.service").strip()
        server.succeed(f"test \"$(stat -c %U /proc/{pid})\" = mainplatform")
        server.succeed(f"grep -q '^CapEff:\\s*0000000000000000' /proc/{pid}/status")

    with subtest("the secrets were created on first boot: 0400 root, in a 0700 directory"):
        server.succeed("systemctl is-active mainplatform-secrets.service")
        server.succeed("test \"$(stat -c '%a %U' ${jwt})\" = '400 root'")
        server.succeed("test \"$(stat -c %a $(dirname ${jwt}))\" = 700")
        server.succeed("test \"$(head -c 64 ${jwt} | base64 -d | wc -c)\" = 48")

    with subtest("the JWT key is a credential only"):
        secret = server.succeed("cat ${jwt}").strip()
        server.fail(f"grep -RqF '{secret}' /etc/systemd/system/")
        server.fail(f"tr '\\0' '\\n' < /proc/{pid}/environ | grep -qF '{secret}'")
        server.fail(f"tr '\\0' '\\n' < /proc/{pid}/environ | grep -q '^JWT_SECRET='")
        server.succeed(f"tr '\\0' '\\n' < /proc/{pid}/environ | grep -q '^CREDENTIALS_DIRECTORY='")
        server.succeed("test \"$(stat -c %a ${jwt})\" = 400")

    with subtest("only the platform user reaches its database and Redis"):
        server.succeed("runuser -u mainplatform -- psql -h /run/postgresql -d mainplatform -tAc 'select 1'")
        server.fail("runuser -u nobody -- psql -h /run/postgresql -d mainplatform -tAc 'select 1'")
        server.fail("psql -h 127.0.0.1 -U mainplatform -d mainplatform -w -tAc 'select 1'")
        server.succeed("runuser -u mainplatform -- redis-cli -s /run/redis-mainplatform/redis.sock ping | grep -q PONG")
        server.fail("runuser -u nobody -- redis-cli -s /run/redis-mainplatform/redis.sock ping")
        server.fail("redis-cli -h 127.0.0.1 -p 6379 ping")

    with subtest("a missing secret stops the backend instead of starting it insecurely"):
        server.succeed("mv ${jwt} ${jwt}.away")
        server.fail("systemctl restart mainplatform-backend.service")
        server.succeed("mv ${jwt}.away ${jwt}")
        server.succeed("systemctl reset-failed mainplatform-backend.service")
        server.succeed("systemctl start mainplatform-backend.service")
        server.wait_until_succeeds(READY, timeout=120)
    '';
}
