# Type information for a NixOS testScript, as the NixOS test driver gives mypy
# (nixos/lib/test-script-prepend.py, nixos/lib/testing/driver.nix): the driver's
# symbols and the machine API, by signature only (our stub, written from the
# nixpkgs sources of 2025-2026; test_driver/machine/__init__.py, driver.py).
# The node variables (`server: QemuMachine;`) are appended by the test, as driver.nix does.
from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, ContextManager, Protocol  # noqa: UP035


class BaseMachine:
    name: str

    def log(self, msg: str) -> None:
        raise NotImplementedError

    def nested(self, msg: str, attrs: dict[str, str] | None = None) -> AbstractContextManager[None]:
        raise NotImplementedError

    def is_up(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def wait_for_shutdown(self) -> None:
        raise NotImplementedError

    def systemctl(self, q: str, user: str | None = None) -> tuple[int, str]:
        raise NotImplementedError

    def wait_for_unit(self, unit: str, user: str | None = None, timeout: int = 900) -> None:
        raise NotImplementedError

    def get_unit_info(self, unit: str, user: str | None = None) -> dict[str, str]:
        raise NotImplementedError

    def get_unit_property(self, unit: str, property: str, user: str | None = None) -> str:
        raise NotImplementedError

    def require_unit_state(self, unit: str, require_state: str = "active") -> None:
        raise NotImplementedError

    def succeed(self, *commands: str, timeout: int | None = None) -> str:
        raise NotImplementedError

    def fail(self, *commands: str, timeout: int | None = None) -> str:
        raise NotImplementedError

    def wait_until_succeeds(self, command: str, timeout: int = 900) -> str:
        raise NotImplementedError

    def wait_until_fails(self, command: str, timeout: int = 900) -> str:
        raise NotImplementedError

    def sleep(self, secs: int) -> None:
        raise NotImplementedError

    def wait_for_file(self, filename: str, timeout: int = 900) -> None:
        raise NotImplementedError

    def wait_for_open_port(self, port: int, addr: str = "localhost", timeout: int = 900) -> None:
        raise NotImplementedError

    def wait_for_open_unix_socket(
        self, addr: str, is_datagram: bool = False, timeout: int = 900
    ) -> None:
        raise NotImplementedError

    def wait_for_closed_port(self, port: int, addr: str = "localhost", timeout: int = 900) -> None:
        raise NotImplementedError

    def start_job(self, jobname: str, user: str | None = None) -> tuple[int, str]:
        raise NotImplementedError

    def stop_job(self, jobname: str, user: str | None = None) -> tuple[int, str]:
        raise NotImplementedError

    def execute(
        self,
        command: str,
        check_return: bool = True,
        check_output: bool = True,
        timeout: int | None = 900,
    ) -> tuple[int, str]:
        raise NotImplementedError

    def copy_from_machine(self, source: str, target_dir: str = "") -> None:
        raise NotImplementedError

    def copy_from_host(self, source: str, target: str) -> None:
        raise NotImplementedError


class QemuMachine(BaseMachine):
    def start(self, allow_reboot: bool = False) -> None:
        raise NotImplementedError

    def shutdown(self) -> None:
        raise NotImplementedError

    def crash(self) -> None:
        raise NotImplementedError

    def reboot(self) -> None:
        raise NotImplementedError

    def screenshot(self, filename: str) -> None:
        raise NotImplementedError

    def send_key(self, key: str, delay: float | None = 0.01, log: bool | None = True) -> None:
        raise NotImplementedError

    def send_chars(self, chars: str, delay: float | None = 0.01) -> None:
        raise NotImplementedError

    def wait_for_console_text(self, regex: str, timeout: int | None = None) -> None:
        raise NotImplementedError

    def get_console_log(self) -> str:
        raise NotImplementedError

    def wait_for_x(self, timeout: int = 900) -> None:
        raise NotImplementedError

    def forward_port(self, host_port: int = 8080, guest_port: int = 80) -> None:
        raise NotImplementedError

    def block(self) -> None:
        raise NotImplementedError

    def unblock(self) -> None:
        raise NotImplementedError


class RetryProtocol(Protocol):
    def __call__(self, fn: Callable[..., Any], timeout_seconds: int = 900) -> None: ...


class PollingConditionProtocol(Protocol):
    def __call__(
        self,
        fun_: Callable[..., Any] | None = None,
        *,
        seconds_interval: float = 2.0,
        description: str | None = None,
    ) -> Callable[[Callable[..., Any]], ContextManager[None]] | ContextManager[None]: ...


start_all: Callable[[], None]
subtest: Callable[[str], ContextManager[None]]
retry: RetryProtocol
test_script: Callable[[], None]
machines_qemu: list[QemuMachine]
run_tests: Callable[[], None]
join_all: Callable[[], None]
serial_stdout_off: Callable[[], None]
serial_stdout_on: Callable[[], None]
polling_condition: PollingConditionProtocol
out_dir: Path
