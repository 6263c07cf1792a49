"""``nix run .#deploy -- root@<ip>``: switch a host to this flake's configuration, check that
the platform works, and switch back to the previous generation when it does not.

1. remember the system the host runs (``/run/current-system``);
2. ``nixos-rebuild switch --flake <flake> --target-host <host>`` (built on the host by default:
   an Ampere host needs no aarch64 builder); or, with ``--system <store path>``, a system
   built already: ``nix-copy-closure`` to the host, then make it the system profile and
   activate it, as ``nixos-rebuild`` does (the VM test deploys this way);
3. within ``--timeout`` seconds every platform unit must be active and
   ``https://<domain>/api/ready`` must answer 200 from here, through the public port, with
   the domain pinned to the host's address (the certificate must verify);
4. otherwise (or when the switch itself fails) the previous generation is made current again
   and activated, and the exit code is 1, saying so (and whether the previous system is
   healthy again within the same bound).

Every remote step is a plain command (``ssh``, ``nixos-rebuild``, ``nix``), run through one
``Runner``: the tests replace it with a fake host.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

PROFILE = "/nix/var/nix/profiles/system"
RUNNING = "/run/current-system"
UNITS = (
    "mainplatform-backend.service",
    "traefik.service",
    "nginx.service",
    "postgresql.service",
    "redis-mainplatform.service",
    "prometheus.service",
)


@dataclass(frozen=True)
class Result:
    code: int
    out: str


Runner = Callable[[Sequence[str]], Result]


def run(argv: Sequence[str]) -> Result:
    proc = subprocess.run(list(argv), capture_output=True, text=True, check=False)  # noqa: S603
    return Result(proc.returncode, proc.stdout.strip() or proc.stderr.strip())


@dataclass
class Deploy:
    host: str
    flake: str = ".#oci"
    build_host: str | None = None  # default: the target itself
    system: str | None = None  # a built system to deploy instead of building the flake
    domain_name: str | None = None  # default: read from the flake
    cacert: str | None = None  # trust this CA for the check (a private or test CA)
    timeout: float = 300.0
    interval: float = 5.0
    runner: Runner = run
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    say: Callable[[str], None] = field(default=lambda text: print(text, flush=True))

    def ssh(self, command: str) -> Result:
        return self.runner(["ssh", "-o", "BatchMode=yes", self.host, command])

    def domain(self) -> str:
        if self.domain_name:
            return self.domain_name
        attr = self.flake.replace("#", "#nixosConfigurations.", 1)
        r = self.runner(["nix", "eval", "--raw", f"{attr}.config.services.mainplatform.domain"])
        if r.code != 0 or not r.out:
            raise SystemExit(f"deploy: cannot read the domain from {self.flake}: {r.out}")
        return r.out

    def current(self) -> str:
        r = self.ssh(f"readlink -f {RUNNING}")
        if r.code != 0 or not r.out.startswith("/nix/store/"):
            raise SystemExit(f"deploy: cannot read the current system of {self.host}: {r.out}")
        return r.out

    def activate(self, system: str) -> Result:
        """Make ``system`` the boot default and switch to it (nixos-rebuild's last steps)."""
        s = shlex.quote(system)
        return self.ssh(f"nix-env -p {PROFILE} --set {s} && {s}/bin/switch-to-configuration switch")

    def switch(self) -> bool:
        if self.system is not None:
            r = self.runner(["nix-copy-closure", "--to", self.host, self.system])
            if r.code == 0:
                r = self.activate(self.system)
        else:
            r = self.runner(
                [
                    "nixos-rebuild",
                    "switch",
                    "--flake",
                    self.flake,
                    "--target-host",
                    self.host,
                    "--build-host",
                    self.build_host or self.host,
                ]
            )
        if r.code != 0:
            self.say(f"deploy: the switch failed: {r.out[-2000:]}")
        return r.code == 0

    def healthy(self, domain: str) -> str | None:
        """None when the platform works; otherwise what is wrong."""
        units = " ".join(shlex.quote(u) for u in UNITS)
        r = self.ssh(f"systemctl is-active {units}")
        if r.code != 0:
            states = dict(zip(UNITS, r.out.split(), strict=False))
            bad = [f"{u} {s}" for u, s in states.items() if s != "active"] or [r.out]
            return "not active: " + ", ".join(bad)
        url = f"https://{domain}/api/ready"
        address = self.host.rsplit("@", 1)[-1]
        r = self.runner(
            [
                "curl",
                "-sf",
                "--max-time",
                "10",
                "-o",
                "/dev/null",
                "--resolve",
                f"{domain}:443:{address}",
                *(["--cacert", self.cacert] if self.cacert else []),
                url,
            ]
        )
        return None if r.code == 0 else f"{url} does not answer 200"

    def settled(self, domain: str) -> str | None:
        """Wait up to ``timeout`` for the platform to work: None, or the last problem."""
        deadline = self.clock() + self.timeout
        while True:
            problem = self.healthy(domain)
            if problem is None or self.clock() >= deadline:
                return problem
            self.sleep(self.interval)

    def roll_back(self, previous: str) -> bool:
        return self.activate(previous).code == 0

    def __call__(self) -> int:
        domain = self.domain()
        previous = self.current()
        self.say(f"deploy: {self.host} runs {previous}")
        problem = self.settled(domain) if self.switch() else "the switch failed"
        if problem is None:
            self.say(f"deploy: {self.host} is healthy on {self.current()}")
            return 0
        self.say(f"deploy: unhealthy ({problem}); rolling back to {previous}")
        if not self.roll_back(previous):
            self.say("deploy: THE ROLLBACK FAILED; the host needs a look (serial console)")
            return 2
        again = self.settled(domain)
        self.say(
            "deploy: rolled back; the previous generation is healthy again"
            if again is None
            else f"deploy: rolled back, but still unhealthy: {again}"
        )
        return 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="deploy", description=__doc__.split("\n\n", 1)[0])
    p.add_argument("host", help="the target, e.g. root@203.0.113.7")
    p.add_argument("--flake", default=".#oci", help="the configuration (default: .#oci)")
    p.add_argument("--build-host", help="where to build (default: the target itself)")
    p.add_argument("--timeout", type=float, default=300, help="seconds to become healthy")
    p.add_argument(
        "--system", help="deploy this built system (a store path) instead of building --flake"
    )
    p.add_argument("--domain", help="the platform's domain (default: read from --flake)")
    p.add_argument("--cacert", help="CA certificate for the HTTPS check (a private CA's)")
    args = p.parse_args(argv)
    return Deploy(
        args.host,
        args.flake,
        args.build_host,
        system=args.system,
        domain_name=args.domain,
        cacert=args.cacert,
        timeout=args.timeout,
    )()


if __name__ == "__main__":
    sys.exit(main())
