"""The deploy tool's logic against a fake host: a good deploy ends healthy, a broken one
(a unit that does not start, a switch that fails, an API that never gets ready) is rolled
back to the previous generation with a non-zero exit code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from mainplatform_dev.deploy import PROFILE, UNITS, Deploy, Result

OLD = "/nix/store/aaaa-nixos-system-old"
NEW = "/nix/store/bbbb-nixos-system-new"


@dataclass
class FakeHost:
    """Answers the commands the tool runs, like a NixOS host would."""

    switch_ok: bool = True
    broken_unit: str | None = None  # inactive after the switch to NEW
    ready_after: int = 0  # health checks before /api/ready answers
    old_ready_after: int = 0  # the same, for the previous system once it is back
    system: str = OLD
    calls: list[list[str]] = field(default_factory=list)
    copied: list[str] = field(default_factory=list)
    checks: int = 0
    old_checks: int = 0

    def __call__(self, argv: Sequence[str]) -> Result:
        argv = list(argv)
        self.calls.append(argv)
        if argv[0] == "nix" and argv[1] == "eval":
            return Result(0, "platform.example.org")
        if argv[0] == "nixos-rebuild":
            if self.switch_ok:
                self.system = NEW
                return Result(0, "activating")
            self.system = NEW  # half-activated: the profile moved before it failed
            return Result(1, "error: activation failed")
        if argv[0] == "nix-copy-closure":
            self.copied.append(argv[-1])
            return Result(0, "")
        if argv[0] == "curl":
            self.checks += 1
            if self.system == OLD:
                self.old_checks += 1
                ok = self.old_checks > self.old_ready_after
            else:
                ok = self.checks > self.ready_after
            return Result(0 if ok else 22, "")
        assert argv[0] == "ssh", argv
        command = argv[-1]
        if command.startswith("readlink"):
            return Result(0, self.system)
        if command.startswith("systemctl is-active"):
            states = [
                "failed" if self.system == NEW and unit == self.broken_unit else "active"
                for unit in UNITS
            ]
            return Result(0 if "failed" not in states else 3, "\n".join(states))
        if command.startswith(f"nix-env -p {PROFILE} --set"):
            target = command.split("--set ", 1)[1].split()[0]
            assert (
                target in (OLD, NEW) and f"{target}/bin/switch-to-configuration switch" in command
            )
            if target == NEW and not self.switch_ok:
                self.system = NEW
                return Result(4, "warning: the following units failed: mainplatform-backend")
            self.system = target
            return Result(0, "")
        raise AssertionError(f"unexpected command {command!r}")


def deploy(
    host: FakeHost,
    timeout: float = 30,
    system: str | None = None,
    domain_name: str | None = None,
    cacert: str | None = None,
) -> tuple[int, list[str]]:
    said: list[str] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    code = Deploy(
        "root@203.0.113.7",
        timeout=timeout,
        runner=host,
        clock=lambda: now[0],
        sleep=sleep,
        say=said.append,
        system=system,
        domain_name=domain_name,
        cacert=cacert,
    )()
    return code, said


def rolled_back(host: FakeHost) -> bool:
    return any("nix-env" in c[-1] for c in host.calls if c[0] == "ssh")


def test_a_good_deploy_stays() -> None:
    host = FakeHost(ready_after=2)  # the API takes a moment to become ready
    code, said = deploy(host)
    assert code == 0, said
    assert host.system == NEW and not rolled_back(host)
    switch = next(c for c in host.calls if c[0] == "nixos-rebuild")
    assert switch[switch.index("--target-host") + 1] == "root@203.0.113.7"
    assert switch[switch.index("--build-host") + 1] == "root@203.0.113.7"  # no aarch64 builder
    curl = next(c for c in host.calls if c[0] == "curl")
    assert "platform.example.org:443:203.0.113.7" in curl


def test_a_backend_that_cannot_start_is_rolled_back() -> None:
    host = FakeHost(broken_unit="mainplatform-backend.service")
    code, said = deploy(host)
    assert code == 1
    assert host.system == OLD and rolled_back(host)
    assert any("mainplatform-backend.service failed" in s for s in said), said
    assert said[-1] == "deploy: rolled back; the previous generation is healthy again"


def test_a_failed_switch_is_rolled_back() -> None:
    host = FakeHost(switch_ok=False)
    code, said = deploy(host)
    assert code == 1 and host.system == OLD and rolled_back(host), said


def test_an_api_that_never_gets_ready_is_rolled_back_within_the_bound() -> None:
    host = FakeHost(ready_after=10**6)
    code, said = deploy(host, timeout=60)
    assert code == 1 and host.system == OLD, said
    assert 10 <= host.checks <= 15  # every 5 s for 60 s, then once more after the rollback


def test_a_built_system_is_copied_activated_and_checked_with_the_given_ca() -> None:
    """--system (the VM test's way): no flake evaluation, no nixos-rebuild."""
    host = FakeHost()
    code, said = deploy(host, system=NEW, domain_name="platform.test", cacert="/tmp/ca.crt")
    assert code == 0 and host.system == NEW, said
    assert host.copied == [NEW]
    assert not any(c[0] in ("nix", "nixos-rebuild") for c in host.calls)
    curl = next(c for c in host.calls if c[0] == "curl")
    assert curl[curl.index("--cacert") + 1] == "/tmp/ca.crt"
    assert "platform.test:443:203.0.113.7" in curl


def test_a_built_system_that_fails_to_activate_is_rolled_back() -> None:
    host = FakeHost(switch_ok=False)
    code, said = deploy(host, system=NEW, domain_name="platform.test")
    assert code == 1 and host.system == OLD, said
    assert any("the switch failed" in s for s in said), said


def test_the_previous_system_is_given_time_to_become_ready_again() -> None:
    """After the rollback the old backend restarts: the check waits for it within the bound."""
    host = FakeHost(broken_unit="mainplatform-backend.service", old_ready_after=3)
    code, said = deploy(host)
    assert code == 1 and host.system == OLD, said
    assert said[-1] == "deploy: rolled back; the previous generation is healthy again"
