"""Point-in-time recovery, the restore drill and Alertmanager in the NixOS module, evaluated
against nixpkgs' real services.pgbackrest and services.prometheus.alertmanager (the
real-declarations tier, tests/modules/real); the pgBackRest wrapper is run for real."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.modules.test_real_eval import error, evaluate, nixpkgs, report  # noqa: F401
from tests.support.nix import module_lib, to_nix
from tests.support.prometheus import amtool_check

S3 = {
    "type": "s3",
    "path": "/mainplatform",
    "bucket": "mainplatform-backups",
    "endpoint": "ns.compat.objectstorage.eu-frankfurt-1.oraclecloud.com",
    "region": "eu-frankfurt-1",
    "keyFile": "/run/keys/s3-key",
    "keySecretFile": "/run/keys/s3-secret",
    "cipherPassFile": "/run/keys/pgbackrest-cipher",
}
MAIL = {
    "to": "oncall@example.org",
    "from": "alerts@platform.example.org",
    "smarthost": "smtp.example.org:587",
    "username": "alerts",
    "passwordFile": "/run/keys/smtp-password",
}


def host(nixpkgs: Path, options: dict[str, Any]) -> Any:  # noqa: F811
    extra = f"[ {{ services.mainplatform = {to_nix(options)}; }} ]"
    proc = evaluate(nixpkgs, "oci.report", extra)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def default_host(nixpkgs: Path) -> Any:  # noqa: F811
    return report(nixpkgs, "oci")


@pytest.fixture(scope="module")
def s3_host(nixpkgs: Path) -> Any:  # noqa: F811
    return host(
        nixpkgs,
        {
            "backup": {"pitr": {"repository": S3}},
            "alerting": {"email": MAIL, "heartbeatUrl": "https://hc-ping.example.org/uuid"},
        },
    )


def test_wal_is_archived_through_pgbackrest(default_host: Any) -> None:
    settings = default_host["postgresql"]["settings"]
    assert settings["archive_mode"] == "on"
    assert settings["archive_timeout"] == 60
    assert settings["wal_level"] == "replica"
    assert "archive-push" in settings["archive_command"]
    assert "--stanza=default" in settings["archive_command"]
    switch = default_host["units"]["mainplatform-wal-switch.service"]
    assert "pg_switch_wal()" in switch and "User=postgres" in switch
    assert "ConditionPathExists=/run/postgresql/.s.PGSQL.5432" in switch
    timer = default_host["timers"]["mainplatform-wal-switch"]["timerConfig"]
    assert timer["OnUnitActiveSec"] == "60s"
    conf = default_host["pgbackrest"]
    assert "repo1-path=/var/lib/pgbackrest" in conf
    assert "repo1-retention-full=2" in conf and "repo1-retention-diff=7" in conf
    assert "pg1-path=/var/lib/postgresql/16" in conf
    assert "pg1-socket-path=/run/postgresql" in conf


def test_backup_timers_and_the_drill(default_host: Any) -> None:
    units = default_host["units"]
    for kind in ("full", "diff"):
        unit = units[f"pgbackrest-default-{kind}.service"]
        assert f"backup --type={kind}" in unit
        assert "pitr --stanza default metrics --textfile-dir" in unit
        assert "SupplementaryGroups=mainplatform-textfile" in unit
        assert f"pgbackrest-default-{kind}.timer" in units
    assert default_host["timers"]["pgbackrest-default-full"]["timerConfig"]["OnCalendar"] == (
        "Sun *-*-* 02:00:00"
    )
    drill = units["mainplatform-restore-drill.service"]
    assert "User=postgres" in drill
    assert (
        "pitr --stanza default drill --scratch /var/lib/mainplatform-restore-drill/scratch" in drill
    )
    assert "--tolerance-rows 10 --tolerance-ratio 0.05" in drill
    assert "SupplementaryGroups=pgbackrest" in drill
    assert "mainplatform-restore-drill.timer" in units
    textfile = default_host["tmpfiles"]["10-mainplatform-textfile"]
    assert next(iter(textfile.values()))["d"]["group"] == "mainplatform-textfile"


def test_no_repository_secret_enters_the_store(s3_host: Any) -> None:
    conf = s3_host["pgbackrest"]
    for line in (
        "repo1-type=s3",
        "repo1-s3-bucket=mainplatform-backups",
        "repo1-s3-region=eu-frankfurt-1",
        "repo1-s3-uri-style=path",
        "repo1-cipher-type=aes-256-cbc",
        "repo1-path=/mainplatform",
    ):
        assert line in conf, conf
    assert "s3-key" not in conf and "cipher-pass" not in conf and "/run/keys" not in conf
    expected = [
        "LoadCredential=s3_key:/run/keys/s3-key",
        "LoadCredential=s3_key_secret:/run/keys/s3-secret",
        "LoadCredential=cipher_pass:/run/keys/pgbackrest-cipher",
    ]
    for name in (
        "postgresql.service",  # archive-push
        "pgbackrest-default-full.service",
        "pgbackrest-default-diff.service",
        "mainplatform-restore-drill.service",
    ):
        unit = s3_host["units"][name]
        assert all(line in unit for line in expected), (name, unit)


def test_an_s3_repository_needs_its_bucket_and_keys(nixpkgs: Path) -> None:  # noqa: F811
    options = {"backup": {"pitr": {"repository": {"type": "s3", "bucket": "b"}}}}
    extra = f"[ {{ services.mainplatform = {to_nix(options)}; }} ]"
    proc = evaluate(nixpkgs, "oci.report", extra)
    assert proc.returncode == 0, proc.stderr[-2000:]
    failed = json.loads(proc.stdout)["assertions"]
    assert any("type s3 needs bucket, endpoint, region" in m for m in failed), failed


def test_alertmanager_on_loopback_with_the_smtp_password_as_a_credential(
    s3_host: Any, tmp_path: Path
) -> None:
    am = s3_host["alertmanager"]
    assert am["enable"] is True
    assert am["listenAddress"] == "127.0.0.1" and am["port"] == 9093
    assert "--cluster.listen-address=" in am["extraFlags"]
    config = am["configuration"]
    assert config["global"]["smtp_auth_password_file"] == (
        "/run/credentials/alertmanager.service/smtp_password"
    )
    assert (
        "LoadCredential=smtp_password:/run/keys/smtp-password"
        in (s3_host["units"]["alertmanager.service"])
    )
    assert s3_host["prometheus"]["alertmanagers"] == [
        {"static_configs": [{"targets": ["127.0.0.1:9093"]}]}
    ]
    # The host's own configuration, as nixpkgs' module writes it, passes amtool.
    amtool_check(tmp_path, config)
    assert "$" not in json.dumps(config), "nixpkgs runs the configuration through envsubst"


def test_the_pgbackrest_wrapper_exports_only_the_credentials_it_finds(tmp_path: Path) -> None:
    """The wrapper every pgBackRest unit runs, rendered by modules/lib.nix and run by sh:
    credentials become PGBACKREST_REPO1_* variables, then the real program runs."""
    fake = tmp_path / "pgbackrest-real"
    fake.write_text('#!/bin/sh\nenv | grep ^PGBACKREST_ | sort\necho "args: $*"\n')
    fake.chmod(0o755)
    script = module_lib(
        f"m.pgbackrestWrapper {{ program = {json.dumps(str(fake))};"
        f" secrets = m.pgbackrestSecrets {to_nix({**S3, 'cipherPassFile': None})}; }}"
    )
    wrapper = tmp_path / "pgbackrest"
    wrapper.write_text("#!/bin/sh\n" + script)
    wrapper.chmod(0o755)
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "s3_key").write_text("AKIA-test")
    (creds / "s3_key_secret").write_text("s3cr3t with spaces")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGBACKREST_")}
    run = subprocess.run(
        [str(wrapper), "--stanza=default", "info"],
        env={**env, "CREDENTIALS_DIRECTORY": str(creds)},
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "PGBACKREST_REPO1_S3_KEY=AKIA-test",
        "PGBACKREST_REPO1_S3_KEY_SECRET=s3cr3t with spaces",
        "args: --stanza=default info",
    ]
    # without credentials (a posix repository) it only runs the program
    bare = subprocess.run([str(wrapper), "x"], env=env, capture_output=True, text=True)
    assert bare.stdout.splitlines() == ["args: x"]


def test_offsite_copies_with_restic_and_its_secrets_as_credentials(
    nixpkgs: Path,  # noqa: F811
) -> None:
    r = host(
        nixpkgs,
        {
            "backup": {
                "offsite": {
                    "enable": True,
                    "repository": "s3:https://ns.compat.objectstorage.example/restic",
                    "passwordFile": "/run/keys/restic-password",
                    "accessKeyIdFile": "/run/keys/restic-key-id",
                    "secretAccessKeyFile": "/run/keys/restic-secret",
                }
            }
        },
    )
    assert r["assertions"] == []
    unit = r["units"]["mainplatform-offsite.service"]
    for line in (
        "LoadCredential=restic_password:/run/keys/restic-password",
        "LoadCredential=aws_access_key_id:/run/keys/restic-key-id",
        "LoadCredential=aws_secret_access_key:/run/keys/restic-secret",
    ):
        assert line in unit
    assert "--path /var/lib/mainplatform/backups --path /var/lib/traefik/acme.json" in unit
    assert "--sqlite /var/lib/grafana/data/grafana.db" in unit
    assert "After=mainplatform-backup.service" in unit
    assert "Wants=mainplatform-offsite.service" in r["units"]["mainplatform-backup.service"]
    missing = host(nixpkgs, {"backup": {"offsite": {"enable": True}}})["assertions"]
    assert any("offsite needs repository and passwordFile" in m for m in missing)
