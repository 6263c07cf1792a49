# Data that survives and alerts that arrive, on the real NixOS units:
# - point-in-time recovery: rows written, the time noted, more rows and a
#   mistake, PostgreSQL restored by pgBackRest to the noted time (the host's
#   posix repository), only the first rows there, archiving working again;
# - the restore drill unit passes and exports its metrics;
# - a critical alert (the backend stopped) reaches the `ops` node by e-mail
#   (aiosmtpd) and webhook, naming its runbook; the Watchdog reaches the
#   heartbeat URL.
# The script prints how long the restore took (README, "Restoring the host").
{ common }:
let
  # the ops node's webhook and heartbeat receiver
  hookPort = 8099;
  ops =
    { pkgs, ... }:
    let
      python = pkgs.python3.withPackages (ps: [ ps.aiosmtpd ]);
      # POST bodies to /var/lib/hooks/<path>-<n>.json
      receiver = pkgs.writeText "receiver.py" ''
        import itertools, pathlib
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        out = pathlib.Path("/var/lib/hooks")
        out.mkdir(exist_ok=True)
        count = itertools.count()
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                name = self.path.strip("/").replace("/", "_")
                (out / f"{name}-{next(count)}.json").write_bytes(body)
                self.send_response(200)
                self.end_headers()
        ThreadingHTTPServer(("0.0.0.0", ${toString hookPort}), Handler).serve_forever()
      '';
    in
    {
      networking.firewall.allowedTCPPorts = [
        25
        hookPort
      ];
      systemd.services.smtp-sink = {
        wantedBy = [ "multi-user.target" ];
        script = "mkdir -p /var/mail/ops && exec ${python}/bin/python -m aiosmtpd -n -l 0.0.0.0:25 -c aiosmtpd.handlers.Mailbox /var/mail/ops";
      };
      systemd.services.hooks = {
        wantedBy = [ "multi-user.target" ];
        script = "exec ${python}/bin/python ${receiver}";
      };
    };
in
{
  name = "mainplatform-recovery";

  nodes.server = {
    imports = [ common ];
    services.mainplatform.alerting = {
      email = {
        to = "oncall@ops";
        from = "alerts@platform.test";
        smarthost = "ops:25";
        requireTls = false;
      };
      webhookUrl = "http://ops:${toString hookPort}/hook";
      heartbeatUrl = "http://ops:${toString hookPort}/heartbeat";
      heartbeatInterval = "10s";
    };
  };
  nodes.ops = ops;

  testScript =
    { nodes, ... }:
    let
      inherit (nodes.server.services.mainplatform.finalSettings.ports) backend;
    in
    ''
    import email
    import time

    PSQL = "runuser -u postgres -- psql -d mainplatform -tA -c"
    READY = "curl -sf http://127.0.0.1:${toString backend}/api/ready"

    start_all()
    server.wait_for_unit("mainplatform-backend.service")
    server.wait_until_succeeds(READY, timeout=180)

    with subtest("WAL reaches the repository and a full backup is taken"):
        server.succeed("systemctl start pgbackrest-default-full.service")
        server.succeed("runuser -u postgres -- pgbackrest --stanza=default check")
        server.succeed("test -s /var/lib/prometheus-node-exporter-textfile/mainplatform_pitr.prom")

    with subtest("restore to a noted time has only what came before"):
        server.succeed(PSQL + " \"CREATE TABLE probe (i int); INSERT INTO probe SELECT generate_series(1, 1000)\"")
        time.sleep(2)
        noted = server.succeed(PSQL + " \"SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US+00')\"").strip()
        time.sleep(2)
        server.succeed(PSQL + " \"INSERT INTO probe SELECT generate_series(1001, 2000); DELETE FROM probe WHERE i <= 10\"")
        server.succeed(PSQL + " 'SELECT pg_switch_wal()'")
        server.wait_until_succeeds(PSQL + " \"SELECT last_archived_time > now() - interval '1 minute' FROM pg_stat_archiver\" | grep -qx t", timeout=60)
        started = time.monotonic()
        server.succeed("systemctl stop mainplatform-backend.service postgresql.service")
        server.succeed("mv /var/lib/postgresql/16 /var/lib/postgresql/16.lost")
        server.succeed("install -d -o postgres -g postgres -m 0750 /var/lib/postgresql/16")
        server.succeed(
            "runuser -u postgres -- pgbackrest --stanza=default restore"
            f" --type=time '--target={noted}' --target-action=promote"
        )
        server.succeed("systemctl start postgresql.service")
        server.wait_until_succeeds(PSQL + " 'SELECT NOT pg_is_in_recovery()' | grep -qx t", timeout=300)
        took = time.monotonic() - started
        print(f"restore to the noted time: {took:.1f} s until PostgreSQL accepted writes")
        assert server.succeed(PSQL + " 'SELECT count(*), min(i), max(i) FROM probe'").strip() == "1000|1|1000"
        server.succeed("systemctl start mainplatform-backend.service")
        server.wait_until_succeeds(READY, timeout=180)
        # the restored cluster archives again (a new timeline)
        server.succeed("runuser -u postgres -- pgbackrest --stanza=default check")

    with subtest("the restore drill passes and says so to node_exporter"):
        server.succeed("systemctl start pgbackrest-default-diff.service")
        server.succeed("systemctl start mainplatform-restore-drill.service")
        server.succeed("grep -qx 'mainplatform_restore_drill_success 1.000' /var/lib/prometheus-node-exporter-textfile/mainplatform_restore.prom")
        server.succeed("test ! -e /var/lib/mainplatform-restore-drill/scratch")

    with subtest("a critical alert reaches mail and webhook, the Watchdog the heartbeat"):
        ops.wait_for_open_port(25)
        ops.wait_for_open_port(${toString hookPort})
        ops.wait_until_succeeds("ls /var/lib/hooks | grep -q '^heartbeat-'", timeout=180)
        server.succeed("systemctl stop mainplatform-backend.service")
        ops.wait_until_succeeds("grep -rl 'BackendDown' /var/mail/ops", timeout=300)
        raw = ops.succeed("cat $(grep -rl 'BackendDown' /var/mail/ops | head -n1)")
        msg = email.message_from_string(raw)
        text = ""
        for part in msg.walk():
            if part.get_content_type() == "text/plain":
                payload = part.get_payload(decode=True)
                text = payload.decode() if isinstance(payload, bytes) else ""
        assert "BackendDown [critical] firing" in text, raw
        assert "Runbook: systemctl status 'mainplatform*'" in text, text
        ops.wait_until_succeeds("grep -l BackendDown /var/lib/hooks/hook-*.json", timeout=60)
        server.succeed("systemctl start mainplatform-backend.service")
    '';
}
