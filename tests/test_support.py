"""The tests keep their shared code in one package, tests/support, and start nginx and Traefik
in one module of it, tests/support/web.py (nginx_running, nginx_config_test, traefik_running).

A second nginx or Traefik launcher is recognised by an ast scan of the code (not the text) of
every tests/**/*.py but web.py (and this file, whose samples and patterns name them), so
comments, docstrings and messages that only mention the programs do not count. Nothing can
start a program without its path, so the scan looks for every way of getting one:

- looking the program up: a call to a function named find_program, require_program, which
  (shutil.which) or find (mainplatform_dev.stack.find) with "nginx" or "traefik", or a path
  ending in one, among its arguments;
- using the path web.py found: a call to require_nginx() or require_traefik() whose result
  is kept (called as a statement, only to skip a test early, is fine);
- naming the program directly as the first element of a command (a list or a tuple:
  ["nginx", ...], ("/usr/sbin/nginx", ...));
- Traefik's option for its static configuration file: a string starting with --configFile
  (in any case; f-strings too), which no other program the tests run takes.

The scan is checked on web.py itself (it must see web.py's lookups and --configFile, or it
has gone blind) and on a sample of each way around it, and of what it must let through.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.support.layout import ROOT

TESTS = ROOT / "tests"
SUPPORT = TESTS / "support"
WEB = SUPPORT / "web.py"
SCANNER = Path(__file__).resolve()

PROGRAM = re.compile(r"(?:^|/)(nginx|traefik)$", re.IGNORECASE)
LOOKUPS = {"find_program", "require_program", "which", "find"}
HARNESS_LOOKUPS = {"require_nginx", "require_traefik"}
TRAEFIK_CONFIG_OPTION = "--configfile"


def _program(node: ast.AST) -> str | None:
    """nginx or traefik when `node` is a string naming one of them (or a path to it)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        match = PROGRAM.search(node.value)
        return match.group(1).lower() if match else None
    return None


def _called(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def launchers(source: str) -> list[str]:
    """Where this module's code looks nginx or Traefik up or starts them ('line: what')."""
    tree = ast.parse(source)
    discarded = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
    }
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _called(node)
            arguments = [*node.args, *(k.value for k in node.keywords)]
            programs = {p for p in map(_program, arguments) if p}
            if name in LOOKUPS and programs:
                found.append(f"{node.lineno}: looks {', '.join(sorted(programs))} up: {name}()")
            if name in HARNESS_LOOKUPS and id(node) not in discarded:
                found.append(f"{node.lineno}: keeps the path {name}() found")
        elif isinstance(node, ast.List | ast.Tuple) and node.elts:
            program = _program(node.elts[0])
            if program:
                found.append(f"{node.lineno}: a command that runs {program}")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.lower().startswith(TRAEFIK_CONFIG_OPTION)
        ):
            found.append(f"{node.lineno}: Traefik's {node.value.split('=')[0]}")
    return sorted(found, key=lambda line: int(line.split(":")[0]))


def test_nginx_and_traefik_are_started_in_tests_support_web_only() -> None:
    others = {
        path.relative_to(ROOT).as_posix(): found
        for path in sorted(TESTS.rglob("*.py"))
        if path not in (WEB, SCANNER) and (found := launchers(path.read_text(encoding="utf-8")))
    }
    assert others == {}, (
        "nginx and Traefik are started by tests/support/web.py only (nginx_running, "
        f"nginx_config_test, traefik_running); use those instead: {others}"
    )


def test_the_scan_sees_the_launchers_of_web_py() -> None:
    found = "\n".join(launchers(WEB.read_text(encoding="utf-8")))
    assert "looks nginx up" in found
    assert "looks traefik up" in found
    assert "Traefik's --configFile" in found


@pytest.mark.parametrize(
    "code",
    [
        'subprocess.Popen(["/usr/sbin/nginx", "-p", str(run), "-c", str(conf)])',
        'subprocess.run(("nginx", "-t"))',
        'exe = shutil.which("traefik")',
        'nginx = require_program("nginx", why="apt-get install nginx")',
        'exe = find_program(name="Traefik")',
        'path = stack.find("nginx")',
        "nginx = require_nginx()",
        "running([exe, require_traefik()], log=log)",
        'running([exe, f"--configfile={static}"], log=log)',
        'argv = [exe, "--configFile", str(static)]',
    ],
)
def test_the_scan_finds_a_second_launcher(code: str) -> None:
    assert launchers(code), code


@pytest.mark.parametrize(
    "code",
    [
        'pytest.skip("nginx is not installed: apt-get install nginx")',
        "require_nginx()",
        "require_traefik()",
        'subprocess.run([tsc, "-p", "frontend", "--noEmit"])',
        'exe = require_program("prometheus", why="apt-get install prometheus")',
        'NGINX_ARGS = {"mimeTypes": "/etc/nginx/mime.types"}',
        '"""Traefik reads --configFile; nginx is started by web.py."""',
    ],
)
def test_the_scan_lets_the_rest_through(code: str) -> None:
    assert launchers(code) == [], code


def test_shared_code_lives_in_tests_support() -> None:
    """No helper module beside the package: no *helpers*.py or tooling.py anywhere under
    tests/, and no tests/support.py (the package is tests/support/)."""
    strays = [
        path.relative_to(ROOT).as_posix()
        for path in TESTS.rglob("*.py")
        if "helpers" in path.name or path.name == "tooling.py"
    ]
    assert strays == [], f"put shared test code in tests/support/ instead: {strays}"
    assert not (TESTS / "support.py").exists()
    assert (SUPPORT / "__init__.py").is_file()
