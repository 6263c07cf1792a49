"""The local stack is a table of units and one generic launcher (mainplatform_dev.stack)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from mainplatform_dev.services import ServiceError
from mainplatform_dev.stack import REQUIRED, Launcher, Stack, Unit, find, ordered

from tests.support import ROOT


def test_units_start_after_what_they_name() -> None:
    table = [Unit("c", after=("b",)), Unit("a"), Unit("b", after=("a",))]
    assert [u.name for u in ordered(table)] == ["a", "b", "c"]
    with pytest.raises(ServiceError, match="not in the table"):
        ordered([Unit("a", after=("ghost",))])
    with pytest.raises(ServiceError, match="circle"):
        ordered([Unit("a", after=("b",)), Unit("b", after=("a",))])


def test_launcher_writes_files_starts_in_order_and_stops_in_reverse(tmp_path: Path) -> None:
    events: list[str] = []
    conf = tmp_path / "conf" / "x.json"
    table = [
        Unit("second", after=("first",), start=lambda: events.append("start second"),
             stop=lambda: events.append("stop second")),
        Unit("first", files={conf: "{}"}, start=lambda: events.append("start first"),
             stop=lambda: events.append("stop first"), ready=conf.exists),
    ]  # fmt: skip
    launcher = Launcher(tmp_path, io.StringIO())
    launcher.run(table)
    launcher.stop()
    assert events == ["start first", "start second", "stop second", "stop first"]
    assert conf.read_text() == "{}"


def test_a_process_that_dies_is_reported_with_its_log(tmp_path: Path) -> None:
    launcher = Launcher(tmp_path, io.StringIO(), timeout=5)
    table = [Unit("sad", command=("sh", "-c", "echo broken config; exit 3"), ready=lambda: False)]
    with pytest.raises(ServiceError, match=r"sad exited with 3:\nbroken config"):
        launcher.run(table)
    launcher.stop()


def test_the_stack_table(tmp_path: Path) -> None:
    if any(find(role) is None for role in REQUIRED):
        pytest.skip("the local stack's programs are missing")
    stack = Stack(ROOT, tmp_path / "state", auto_ports=True, out=io.StringIO())
    stack.state.mkdir()
    (stack.state / "logs").mkdir()
    stack._configure()
    table = stack.units()
    names = [u.name for u in table]
    assert len(names) == len(set(names))
    assert names[:5] == ["postgres", "redis", "migrations", "mail-sink", "backend"]
    assert {"nginx", "traefik", "prometheus"} <= set(names)
    for unit in ordered(table):
        assert unit.command or unit.start, unit.name  # each does something
        if unit.command:
            assert unit.ready is not None, f"{unit.name} has no readiness probe"
        for path in [*unit.files, *unit.dirs]:
            assert path.is_relative_to(stack.state), (unit.name, path)
    backend = next(u for u in table if u.name == "backend")
    assert backend.env["DATABASE_URL"] == stack.database_url
    # Mail goes to the sink on loopback; its links to the stack's own entrypoint.
    assert backend.env["SMTP_HOST"] == "127.0.0.1"
    assert backend.env["SMTP_PORT"] == str(stack.smtp_port)
    assert backend.env["PUBLIC_URL"] == stack.url
    # --ports auto is a flag, not a port entry
    assert "auto" not in stack.config["settings"]["ports"]
