"""Point-in-time recovery with pgBackRest: integrity checks, restores and the restore drill.

PostgreSQL archives every WAL segment with ``pgbackrest archive-push`` (its
``archive_command``); pgBackRest takes full and differential backups on timers and keeps a
number of them (retention by count). This module drives the ``pgbackrest`` program; it never
reads the repository itself, so a posix, SFTP or S3 repository are all the same to it:

- ``verify`` runs ``pgbackrest check`` (the archive works) and ``pgbackrest verify`` (every
  file of every backup and WAL segment matches its checksum). pgBackRest 2.45 (Debian 12)
  exits 0 from ``verify`` even when it finds errors, so its report is read (``--verbose``:
  without it, 2.45 prints nothing when all is well), not its exit status.
- ``restore`` restores the newest backup, or the state at a point in time, into a directory.
- ``restore_drill`` proves the backups restore: newest backup plus archived WAL into a
  scratch cluster, sanity queries against the live database, scratch cluster removed, and
  node_exporter's textfile metrics ``mainplatform_restore_*`` written either way.
- ``write_backup_metrics`` exports the newest backup's time from ``pgbackrest info`` as
  ``mainplatform_backup_last_success_timestamp_seconds{kind="pitr"}`` (BackupTooOld).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from mainplatform.backup import METRIC as BACKUP_METRIC
from mainplatform.backup import SIZE_METRIC, BackupError, write_textfile
from mainplatform.programs import find_program

RESTORE_METRIC = "mainplatform_restore_verified_timestamp_seconds"
DURATION_METRIC = "mainplatform_restore_duration_seconds"
RUN_METRIC = "mainplatform_restore_drill_last_run_timestamp_seconds"
SUCCESS_METRIC = "mainplatform_restore_drill_success"
DRILL_FILE = "mainplatform_restore.prom"
BACKUP_FILE = "mainplatform_pitr.prom"
# The tables whose row counts the drill compares with the live database.
DRILL_TABLES = ("users", "notes")


@dataclass(frozen=True)
class PgBackRest:
    """How to call pgBackRest for one stanza. `prefix` runs it (and the scratch cluster's
    pg_ctl) as another user, e.g. ("runuser", "-u", "postgres", "--") when root runs it."""

    stanza: str
    config: Path | None = None  # None: pgBackRest's own default (/etc/pgbackrest/...)
    program: str = "pgbackrest"
    prefix: tuple[str, ...] = ()
    options: tuple[str, ...] = ()  # more --option=value for every command

    def argv(self, command: str, *options: str) -> list[str]:
        exe = shutil.which(self.program) or self.program
        cfg = [f"--config={self.config}"] if self.config else []
        return [*self.prefix, exe, *cfg, f"--stanza={self.stanza}", *self.options, *options,
                command]  # fmt: skip

    def run(self, command: str, *options: str, timeout: float = 6 * 3600) -> str:
        """Run one command; its standard output, or BackupError with pgBackRest's words."""
        argv = self.argv(command, "--log-level-console=warn", "--log-level-stderr=error",
                         *options)  # fmt: skip
        try:
            proc = subprocess.run(  # noqa: S603 - our program, our arguments
                argv, capture_output=True, text=True, timeout=timeout, check=False
            )
        except FileNotFoundError:
            raise BackupError(f"{self.program} is not installed (apt install pgbackrest)") from None
        if proc.returncode != 0:
            words = (proc.stderr.strip() or proc.stdout.strip())[-800:]
            raise BackupError(f"pgbackrest {command} failed ({proc.returncode}): {words}")
        return proc.stdout


# -- integrity --------------------------------------------------------------------------------

_STATUS = re.compile(r"^\s*status:\s*(\S+)", re.M)


@dataclass(frozen=True)
class Verification:
    report: str  # pgBackRest's text report

    @property
    def ok(self) -> bool:
        statuses = _STATUS.findall(self.report)
        return bool(statuses) and all(s == "ok" for s in statuses)

    def problems(self) -> list[str]:
        """The lines of the report about what is wrong: invalid backups, WAL archive ids
        with damage, and their non-zero counts of missing or invalid files."""
        bad = re.compile(r"status: (?!ok|valid)|(missing|invalid|other): [1-9]")
        return [ln.strip() for ln in self.report.splitlines() if bad.search(ln)]


def verify(pgbr: PgBackRest, *, archive: bool = True) -> Verification:
    """`check` (WAL reaches the repository; needs the live server) when `archive`, then
    `verify` (checksums of every backed-up file and WAL segment). Raises BackupError when
    either finds a problem."""
    if archive:
        pgbr.run("check", timeout=600)
    result = Verification(pgbr.run("verify", "--output=text", "--verbose"))
    if not result.ok:
        raise BackupError("pgbackrest verify found damage: " + "; ".join(result.problems()))
    return result


# -- what the repository holds ----------------------------------------------------------------


@dataclass(frozen=True)
class BackupSet:
    label: str
    type: str  # full, diff, incr
    started: float
    stopped: float
    size: int  # database size
    repo_size: int  # stored (compressed) size


def backups(pgbr: PgBackRest) -> list[BackupSet]:
    """The stanza's backups, oldest first (`pgbackrest info --output=json`)."""
    stanzas: list[dict[str, Any]] = json.loads(pgbr.run("info", "--output=json", timeout=600))
    out = []
    for stanza in stanzas:
        for b in stanza.get("backup", []):
            out.append(
                BackupSet(
                    label=b["label"],
                    type=b["type"],
                    started=float(b["timestamp"]["start"]),
                    stopped=float(b["timestamp"]["stop"]),
                    size=int(b["info"]["size"]),
                    repo_size=int(b["info"]["repository"]["delta"]),
                )
            )
    return sorted(out, key=lambda b: b.stopped)


def write_backup_metrics(pgbr: PgBackRest, textfile_dir: Path) -> BackupSet:
    """The newest backup's stop time and stored size as kind="pitr" (BackupTooOld)."""
    sets = backups(pgbr)
    if not sets:
        raise BackupError(f"stanza {pgbr.stanza} has no backup yet")
    newest = sets[-1]
    write_textfile(
        textfile_dir,
        BACKUP_FILE,
        {
            BACKUP_METRIC: ("When the last successful backup of each kind finished.",
                            [({"kind": "pitr"}, newest.stopped)]),
            SIZE_METRIC: ("Size of the last successful backup of each kind.",
                          [({"kind": "pitr"}, float(newest.repo_size))]),
        },
    )  # fmt: skip
    return newest


# -- restore ----------------------------------------------------------------------------------


def restore(
    pgbr: PgBackRest,
    data_dir: Path,
    *,
    target_time: str | None = None,
    label: str | None = None,
    archive: bool = True,
) -> float:
    """Restore into `data_dir` (must be empty or absent): the newest backup and all archived
    WAL, or only up to `target_time` (PostgreSQL timestamp, e.g. '2026-01-02 03:04:05+00'),
    from backup set `label` when given. The cluster promotes itself once it has replayed
    that far. `archive=False` (a scratch copy) keeps the restored cluster from archiving
    into the repository; a restored host keeps archiving. Returns the seconds the restore
    took (not counting WAL replay at start)."""
    if data_dir.exists() and any(data_dir.iterdir()):
        raise BackupError(f"{data_dir} is not empty: restore into a fresh directory")
    options = [f"--pg1-path={data_dir}"] + ([] if archive else ["--archive-mode=off"])
    if target_time is not None:
        options += ["--type=time", f"--target={target_time}", "--target-action=promote"]
    if label is not None:
        options.append(f"--set={label}")
    started = time.monotonic()
    pgbr.run("restore", *options)
    return time.monotonic() - started


@dataclass
class ScratchCluster:
    """A restored data directory started on a private socket (no TCP), with a configuration
    of its own: the live one's (possibly a symlink into /nix/store, with its port and
    archive_command) is not read."""

    data: Path
    prefix: tuple[str, ...] = ()
    port: int = 5432
    settings: Mapping[str, str] = field(default_factory=dict)

    @property
    def socket_dir(self) -> Path:
        return self.data.parent / "run"

    @property
    def url(self) -> str:
        return f"postgresql:///postgres?host={self.socket_dir}&port={self.port}&user=postgres"

    def url_for(self, database: str) -> str:
        return self.url.replace("///postgres?", f"///{database}?", 1)

    def _run(self, *args: str, timeout: float = 3600) -> None:
        argv = [*self.prefix, find_program("pg_ctl"), *args]
        proc = subprocess.run(  # noqa: S603
            argv, capture_output=True, text=True, timeout=timeout, check=False
        )
        if proc.returncode != 0:
            log = self.data.parent / "postgres.log"
            tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
            raise BackupError(f"pg_ctl {args[-1]} failed: {proc.stderr.strip()}\n{tail}")

    def start(self, timeout: float = 3600) -> None:
        base = self.data.parent
        conf = base / "postgresql.conf"
        hba = base / "pg_hba.conf"
        ident = base / "pg_ident.conf"
        hba.write_text("local all all trust\n", encoding="utf-8")  # a private socket only
        ident.write_text("", encoding="utf-8")
        values = {
            "port": str(self.port),
            "listen_addresses": "''",
            "unix_socket_directories": f"'{self.socket_dir}'",
            "hba_file": f"'{hba}'",
            "ident_file": f"'{ident}'",
            "archive_mode": "off",
            "shared_buffers": "'64MB'",
            # No queries during replay; and without hot standby, recovery does not insist
            # on max_connections & co. being at least the live server's.
            "hot_standby": "off",
            **self.settings,
        }
        conf.write_text("".join(f"{k} = {v}\n" for k, v in values.items()), encoding="utf-8")
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        if self.prefix:  # readable by the user the cluster runs as
            owner = self.data.stat()
            for path in (base, conf, hba, ident, self.socket_dir):
                os.chown(path, owner.st_uid, owner.st_gid)
        started = time.monotonic()
        self._run("-D", str(self.data), "-l", str(base / "postgres.log"),
                  "-o", f"-c config_file={conf}", "-w", "-t", str(int(timeout)), "start",
                  timeout=timeout + 30)  # fmt: skip
        # pg_ctl returns once the server runs; it answers queries only when the replay of
        # the archived WAL has finished and it has promoted itself.
        while True:
            try:
                with psycopg.connect(self.url, connect_timeout=5) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() - started > timeout:
                    raise BackupError(
                        f"the restored cluster never accepted queries: {exc}"
                    ) from None
                if not (self.data / "postmaster.pid").exists():
                    log = (base / "postgres.log").read_text(errors="replace")[-800:]
                    raise BackupError(
                        f"the restored cluster stopped during recovery:\n{log}"
                    ) from None
                time.sleep(0.2)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=120)


@dataclass(frozen=True)
class Tolerance:
    """How far a restored row count may be from the live one: the larger of `rows` and
    `ratio` of the live count (writes since the last archived WAL segment)."""

    rows: int = 10
    ratio: float = 0.05

    def allows(self, live: int, restored: int) -> bool:
        return abs(live - restored) <= max(self.rows, self.ratio * live)


@dataclass(frozen=True)
class DrillResult:
    backup: str  # label of the restored backup set
    restore_seconds: float  # restore and WAL replay until the scratch cluster accepts queries
    total_seconds: float
    schema_version: str
    counts: dict[str, tuple[int, int]]  # table -> (live, restored)


def _sample(url: str) -> tuple[str, dict[str, int]]:
    with psycopg.connect(url, connect_timeout=10) as conn:
        row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        version = str(row[0]) if row and row[0] is not None else ""
        counts = {}
        for table in DRILL_TABLES:
            got = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            counts[table] = int(got[0]) if got else 0
    return version, counts


def sanity_problems(
    live: tuple[str, dict[str, int]], restored: tuple[str, dict[str, int]], tolerance: Tolerance
) -> list[str]:
    """What makes the restored database differ from the live one more than allowed."""
    problems = []
    if restored[0] != live[0]:
        problems.append(f"schema version {restored[0] or 'none'} restored, {live[0]} live")
    if not restored[0]:
        problems.append("the restored database has no applied migration")
    for table, n in live[1].items():
        got = restored[1].get(table, -1)
        if not tolerance.allows(n, got):
            problems.append(f"{table}: {got} rows restored, {n} live")
    return problems


def restore_drill(
    pgbr: PgBackRest,
    scratch: Path,
    live_url: str,
    *,
    database: str,
    tolerance: Tolerance = Tolerance(),
    textfile_dir: Path | None = None,
    port: int = 5432,
    verify_first: bool = True,
) -> DrillResult:
    """Verify the repository, restore the newest backup plus archived WAL into `scratch`
    (created empty, removed afterwards), start it, compare it with the live database, stop
    it. Writes the drill's metrics to `textfile_dir` whether it succeeds or not; raises
    BackupError saying what failed."""
    started_wall = time.time()
    started = time.monotonic()
    ok = False
    duration = 0.0
    try:
        if verify_first:
            verify(pgbr)
        sets = backups(pgbr)
        if not sets:
            raise BackupError(f"stanza {pgbr.stanza} has no backup to restore")
        if scratch.exists():
            shutil.rmtree(scratch)
        scratch.mkdir(mode=0o700, parents=True)
        data = scratch / "data"
        if pgbr.prefix:
            _chown_like_runner(pgbr.prefix, scratch)
        restore(pgbr, data, archive=False)
        cluster = ScratchCluster(data, prefix=pgbr.prefix, port=port)
        try:
            cluster.start()
            duration = time.monotonic() - started
            restored = _sample(cluster.url_for(database))
            live = _sample(live_url)
        finally:
            cluster.stop()
        problems = sanity_problems(live, restored, tolerance)
        if problems:
            raise BackupError("the restored database is not the live one: " + "; ".join(problems))
        ok = True
        return DrillResult(
            backup=sets[-1].label,
            restore_seconds=duration,
            total_seconds=time.monotonic() - started,
            schema_version=restored[0],
            counts={t: (live[1][t], restored[1][t]) for t in live[1]},
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if textfile_dir is not None:
            write_drill_metrics(textfile_dir, ok=ok, ran=started_wall, duration=duration)


def _chown_like_runner(prefix: Sequence[str], path: Path) -> None:
    """Give `path` to the user `prefix` runs commands as (runuser -u NAME / sudo -u NAME)."""
    import pwd

    if "-u" in prefix:
        name = prefix[list(prefix).index("-u") + 1]
        pw = pwd.getpwnam(name)
        os.chown(path, pw.pw_uid, pw.pw_gid)


def _previous(textfile_dir: Path, metric: str) -> float | None:
    path = textfile_dir / DRILL_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    m = re.search(rf"^{metric} (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def write_drill_metrics(textfile_dir: Path, *, ok: bool, ran: float, duration: float) -> Path:
    """The drill's outcome; the verified timestamp and duration keep their previous values
    when this run failed (so the age alert measures from the last good restore)."""
    verified = time.time() if ok else _previous(textfile_dir, RESTORE_METRIC)
    took = duration if ok else _previous(textfile_dir, DURATION_METRIC)
    families: dict[str, tuple[str, list[tuple[dict[str, str], float]]]] = {
        RUN_METRIC: ("When the restore drill last ran.", [({}, ran)]),
        SUCCESS_METRIC: ("1 if the last restore drill passed, else 0.", [({}, 1.0 if ok else 0.0)]),
    }
    if verified is not None:
        families[RESTORE_METRIC] = ("When a restore last passed the drill.", [({}, verified)])
    if took is not None:
        families[DURATION_METRIC] = (
            "Seconds from the start of the last passing drill until the restored cluster "
            "answered queries.",
            [({}, took)],
        )
    return write_textfile(textfile_dir, DRILL_FILE, families)
