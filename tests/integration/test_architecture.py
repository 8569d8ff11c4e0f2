"""The layering holds: import contracts are enforced, and no module does I/O at import time."""

from __future__ import annotations

import ast
import importlib
import inspect
import shutil
import subprocess
import sys
import tomllib
import typing
from pathlib import Path

from naver_sms.settings.env import ENV_TO_KEY
from tests.conftest import BIN
from tests.support.procs import REPO

# Imports every module with an audit hook that refuses sockets, processes and forks.
NO_IO_AT_IMPORT = """
import pkgutil, sys, importlib
FORBIDDEN = ("socket.connect", "socket.getaddrinfo", "subprocess.Popen", "os.system", "os.fork",
             "os.posix_spawn", "os.exec")
def hook(event, args):
    if event.startswith(FORBIDDEN):
        raise RuntimeError(f"I/O at import time: {event} {args!r:.200}")
sys.addaudithook(hook)
import naver_sms, main
names = [m.name for m in pkgutil.walk_packages(naver_sms.__path__, "naver_sms.")]
for name in names:
    importlib.import_module(name)
print(len(names))
"""


def test_no_module_does_io_at_import() -> None:
    env = {
        "PYTHONPATH": str(REPO / "src"),
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "AWS_ENDPOINT_URL": "http://192.0.2.1:1",
        "NATS_URL": "nats://192.0.2.1:1",
    }
    out = subprocess.run(
        [sys.executable, "-c", NO_IO_AT_IMPORT], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) > 30  # every module was imported, not a handful


def test_the_hook_catches_io_at_import(tmp_path: Path) -> None:
    """The check above can fail: a module that connects at import is caught."""
    shutil.copytree(REPO / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "src" / "naver_sms" / "adapters" / "eager.py").write_text(
        "import socket\nsocket.create_connection(('127.0.0.1', 9))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", NO_IO_AT_IMPORT],
        env={"PYTHONPATH": str(tmp_path / "src")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode != 0 and "I/O at import time: socket." in out.stderr


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root / "src"), "PATH": str(BIN)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_contracts_are_kept() -> None:
    # Every contract pyproject.toml declares is checked and kept: one added there is counted here too.
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    out = lint_imports(REPO)
    assert out.returncode == 0, out.stdout
    assert f"Contracts: {len(declared)} kept, 0 broken." in out.stdout
    report = " ".join(out.stdout.split())  # lint-imports wraps long names at the terminal's width
    for contract in declared:
        assert f"{contract['name']} KEPT" in report


def test_a_forbidden_import_breaks_the_contract_with_a_clear_message(tmp_path: Path) -> None:
    shutil.copytree(REPO / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    booking = tmp_path / "src" / "naver_sms" / "domain" / "booking.py"
    booking.write_text("import boto3  # a domain module reaching for AWS\n" + booking.read_text())
    out = lint_imports(tmp_path)
    assert out.returncode == 1
    report = " ".join(out.stdout.split())  # the report wraps long contract names
    assert (
        "The domain is pure: plain data and rules, no adapters, entry points or I/O libraries BROKEN"
        in report
    )
    assert "naver_sms.domain.booking -> boto3" in out.stdout


def test_env_example_documents_every_variable() -> None:
    documented = {
        line.lstrip("# ").split("=", 1)[0]
        for line in (REPO / ".env.example").read_text().splitlines()
        if "=" in line
    }
    assert set(ENV_TO_KEY) <= documented, sorted(set(ENV_TO_KEY) - documented)


def builds_an_adapter(target: object) -> bool:
    """An adapter class, or a factory returning an instance of one (dynamo_sent_log …)."""
    if not inspect.isclass(target):
        target = typing.get_type_hints(target).get("return") if callable(target) else None
    return inspect.isclass(target) and target.__module__.startswith("naver_sms.adapters")


def adapter_classes_built(path: Path) -> set[str]:
    """What the module at `path` calls from naver_sms.adapters to build an adapter: a name imported from
    an adapter module (`from naver_sms.adapters.sens import SensTransport`), or an attribute of an adapter
    module imported whole (`import naver_sms.adapters.sens as sens; sens.SensTransport(...)`)."""
    tree = ast.parse(path.read_text())
    names = {
        alias.asname or alias.name: f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("naver_sms.adapters")
        for alias in node.names
    }
    modules = {
        alias.asname or alias.name: alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name.startswith("naver_sms.adapters")
    }
    called: set[str] = set()
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        if isinstance(call.func, ast.Name) and call.func.id in names:
            called.add(names[call.func.id])
        elif isinstance(call.func, ast.Attribute) and ast.unparse(call.func.value) in modules:
            called.add(f"{modules[ast.unparse(call.func.value)]}.{call.func.attr}")
    built = set()
    for dotted in called:
        module, _, attr = dotted.rpartition(".")
        target = getattr(importlib.import_module(module), attr, None)
        if target is not None and builds_an_adapter(target):
            built.add(dotted)
    return built


def test_the_adapter_guard_sees_both_import_shapes(tmp_path: Path) -> None:
    entry = tmp_path / "entry.py"
    entry.write_text(
        "import naver_sms.adapters.sens as sens\nfrom naver_sms.adapters.sens import SensTransport as T\n"
        "a = sens.SensTransport(None)\nb = T(None)\n"
    )
    assert adapter_classes_built(entry) == {"naver_sms.adapters.sens.SensTransport"}


def test_entry_points_build_no_adapters() -> None:
    """bootstrap/__init__.py: entry points translate input and output; only the composition roots build
    adapters (an entry point that builds one is wiring, and policy follows wiring)."""
    modules = sorted((REPO / "src" / "naver_sms" / "entrypoints").rglob("*.py"))
    assert modules, "no entry-point modules found"
    built = {str(m.relative_to(REPO)): adapter_classes_built(m) for m in modules}
    assert {name: classes for name, classes in built.items() if classes} == {}


def test_the_application_has_one_of_each_use_case_and_port() -> None:
    """A sync/async twin (SentLog beside AsyncSentLog …) is a second copy of the use case."""
    names = {
        node.name
        for path in (REPO / "src" / "naver_sms" / "application").glob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef)
    }
    assert names, "no classes found in application/"
    twins = {name for name in names if name.startswith("Async") and name.removeprefix("Async") in names}
    assert twins == set()
    assert {name for name in names if name.startswith(("Async", "Blocking", "Sync"))} == set()
