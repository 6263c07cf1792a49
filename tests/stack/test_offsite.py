"""`mainplatform offsite`: Redis's snapshot, Grafana's SQLite database and Traefik's ACME
store to a restic repository over SFTP, served by a real sshd on loopback (Debian's
openssh-server; restic's rest-server is not packaged), restored byte for byte; damage in
the repository is found by `offsite check`."""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from mainplatform_dev.services import Redis
from prometheus_client.parser import text_string_to_metric_families

from mainplatform.backup import dump_redis
from tests.support import free_port, mainplatform, require_program, running, tail, wait_until
from tests.support.processes import alive


@contextlib.contextmanager
def sftp_server(base: Path) -> Iterator[tuple[int, Path]]:
    """sshd on 127.0.0.1 that lets this user in with a key of its own (SFTP only);
    yields the port and the private key."""
    sshd = require_program("sshd", why="apt-get install openssh-server")
    keygen = require_program("ssh-keygen", why="apt-get install openssh-client")
    for name in ("host_key", "client_key"):
        subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(base / name)],
                       check=True, timeout=30)  # fmt: skip
    (base / "authorized_keys").write_text((base / "client_key.pub").read_text())
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # its privilege separation dir
    port = free_port()
    config = base / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {base / 'host_key'}\n"
        f"AuthorizedKeysFile {base / 'authorized_keys'}\nPidFile {base / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "StrictModes no\nPermitRootLogin prohibit-password\n"
        "Subsystem sftp internal-sftp\nForceCommand internal-sftp\n",
        encoding="utf-8",
    )
    log = base / "sshd.log"
    with running([sshd, "-D", "-e", "-f", str(config)], log=log) as proc:
        wait_until(
            lambda: alive(proc, "sshd", log) and "listening on" in log.read_text(),
            what="sshd listening",
            detail=lambda: tail(log),
            timeout=20,
        )
        yield port, base / "client_key"


def offsite(
    repo: str, password: Path, options: list[str], *args: str
) -> subprocess.CompletedProcess[str]:
    opts = [a for o in options for a in ("--option", o)]
    return mainplatform(
        "offsite", "--repository", repo, "--password-file", str(password), *opts, *args,
        timeout=300,
    )  # fmt: skip


def test_redis_grafana_and_acme_go_off_the_host_and_come_back() -> None:
    require_program("restic", why="apt-get install restic")
    base = Path(tempfile.mkdtemp(prefix="mainplatform-offsite-"))
    try:
        with sftp_server(base) as (port, key):
            user = getpass.getuser()
            remote = base / "remote"  # "the other machine" (the SFTP server's disk)
            remote.mkdir()
            repo = f"sftp:{user}@127.0.0.1:{remote / 'restic'}"
            ssh = (f"ssh -p {port} -i {key} -o BatchMode=yes -o StrictHostKeyChecking=no "
                   f"-o UserKnownHostsFile=/dev/null {user}@127.0.0.1 -s sftp")  # fmt: skip
            options = [f"sftp.command={ssh}"]
            password = base / "restic-password"
            password.write_text("correct horse battery staple\n")

            # the host's state: a Redis snapshot taken over the protocol, Grafana's
            # database (written to while it is copied), Traefik's ACME store
            host = base / "host"
            dumps = host / "backups"
            dumps.mkdir(parents=True)
            rd = Redis(base / "redis").start()
            try:
                import redis as redis_client

                redis_client.Redis.from_url(rd.url).set("session:1", "alive")
                rdb = dump_redis(rd.url, dumps, "20260101T000000Z").path
            finally:
                rd.stop()
            grafana = host / "grafana" / "grafana.db"
            grafana.parent.mkdir()
            with contextlib.closing(sqlite3.connect(grafana)) as db:
                db.execute("CREATE TABLE dashboard (id INTEGER PRIMARY KEY, title TEXT)")
                db.executemany("INSERT INTO dashboard (title) VALUES (?)",
                               [(f"d{i}",) for i in range(100)])  # fmt: skip
                db.commit()
            acme = host / "traefik" / "acme.json"
            acme.parent.mkdir()
            acme.write_text('{"letsencrypt": {"Account": {"Email": "ops@example.org"}}}')
            acme.chmod(0o600)

            textfiles = base / "textfiles"
            r = offsite(
                repo, password, options, "backup", "--path", str(dumps), "--path", str(acme),
                "--sqlite", str(grafana), "--stage", str(host / "stage"),
                "--textfile-dir", str(textfiles),
            )  # fmt: skip
            assert r.returncode == 0, r.stderr
            assert any(remote.joinpath("restic", "data").rglob("*")), "nothing on the server"
            prom = (textfiles / "mainplatform_offsite.prom").read_text()
            metrics = {
                s.labels.get("kind"): s.value
                for f in text_string_to_metric_families(prom)
                for s in f.samples
                if s.name == "mainplatform_backup_last_success_timestamp_seconds"
            }
            assert "offsite" in metrics

            # the host is gone: restore onto a fresh directory
            restored = base / "restored"
            r = offsite(repo, password, options, "restore", "--target", str(restored))
            assert r.returncode == 0, r.stderr
            again = lambda p: restored / p.relative_to("/")  # noqa: E731
            assert again(rdb).read_bytes() == rdb.read_bytes()
            assert again(acme).read_text() == acme.read_text()
            copy = again(host / "stage" / "grafana-grafana.db")
            with contextlib.closing(sqlite3.connect(copy)) as db:
                assert db.execute("SELECT count(*) FROM dashboard").fetchone() == (100,)

            r = offsite(repo, password, options, "check")
            assert r.returncode == 0, r.stderr
            # damage one pack on the server: check --read-data finds it
            pack = max((p for p in (remote / "restic" / "data").rglob("*") if p.is_file()),
                       key=lambda p: p.stat().st_size)  # fmt: skip
            data = bytearray(pack.read_bytes())
            data[len(data) // 2] ^= 0xFF
            pack.chmod(0o644)
            pack.write_bytes(bytes(data))
            r = offsite(repo, password, options, "check")
            assert r.returncode != 0
            assert "restic check failed" in r.stderr, r.stderr
            # a wrong password opens nothing
            password.write_text("wrong\n")
            assert (
                offsite(repo, password, options, "restore", "--target", str(base / "x")).returncode
                != 0
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_offsite_names_a_missing_path(tmp_path: Path) -> None:
    require_program("restic", why="apt-get install restic")
    password = tmp_path / "pw"
    password.write_text("pw\n")
    r = offsite(str(tmp_path / "repo"), password, [], "backup", "--path",
                str(tmp_path / "nope"), "--stage", str(tmp_path / "stage"))  # fmt: skip
    assert r.returncode != 0 and "nothing at" in r.stderr
    assert not (tmp_path / "repo").exists(), "no repository is created for a failed backup"
    pytest.importorskip("sqlite3")
