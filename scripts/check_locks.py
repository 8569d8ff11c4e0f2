"""Fail when a lock file is stale against its .in file, the worker lock drifts from the runtime pins, or
pyproject.toml's dependency names differ from the .in files'.

Offline and fast: every requirement named in an .in file (and in the files it -r includes) must be
pinned in its lock at a version its specifier allows, and every pin the worker shares with
requirements.txt must be the same version. `make lock` fixes what this reports.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PAIRS = [
    ("requirements.in", "requirements.txt"),
    ("docker/requirements-worker.in", "docker/requirements-worker.txt"),
    ("requirements-dev.in", "requirements-dev.txt"),
    ("infra/requirements-sam.in", "infra/requirements-sam.txt"),
]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def pins(lock: Path) -> dict[str, str]:
    return {canonicalize_name(name): version for name, version in PIN.findall(lock.read_text())}


def requirements(source: Path) -> list[Requirement]:
    found: list[Requirement] = []
    for raw in source.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-c"):
            continue
        if line.startswith("-r"):
            found += requirements(source.parent / line[2:].strip())
            continue
        try:
            found.append(Requirement(line))
        except InvalidRequirement as err:
            raise SystemExit(f"{source}: cannot parse {line!r}: {err}") from err
    return found


def problems() -> list[str]:
    found = []
    for source, lock in PAIRS:
        pinned = pins(ROOT / lock)
        for req in requirements(ROOT / source):
            version = pinned.get(canonicalize_name(req.name))
            if version is None:
                found.append(f"{lock}: {req.name} (from {source}) is not pinned")
            elif not req.specifier.contains(version, prereleases=True):
                found.append(f"{lock}: {req.name}=={version} does not satisfy {req} in {source}")
    runtime = pins(ROOT / "requirements.txt")
    for name, version in pins(ROOT / "docker/requirements-worker.txt").items():
        if runtime.get(name, version) != version:
            found.append(
                f"docker/requirements-worker.txt: {name}=={version} but requirements.txt pins {runtime[name]}"
            )
    return found + package_problems()


def package_problems() -> list[str]:
    """The package's names are the images' names (base = the worker's, base + `lambda` = the Lambda's),
    and its build backend is the dev lock's."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    base = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    extra = {canonicalize_name(Requirement(r).name) for r in project["optional-dependencies"]["lambda"]}
    found = []
    for source, expected in (("docker/requirements-worker.in", base), ("requirements.in", base | extra)):
        named = {canonicalize_name(r.name) for r in requirements(ROOT / source)}
        if named != expected:
            found.append(f"pyproject.toml names {sorted(expected)} for {source}, which names {sorted(named)}")
    # The worker image builds the wheel with the build backend the venv's editable install uses.
    dev = pins(ROOT / "requirements-dev.txt")
    for raw in pyproject["build-system"]["requires"]:
        req = Requirement(raw)
        pinned = dev.get(canonicalize_name(req.name))
        if str(req.specifier) != f"=={pinned}":
            found.append(f"pyproject.toml's build-system requires {raw}; requirements-dev.txt pins {pinned}")
    return found


if __name__ == "__main__":
    stale = problems()
    for problem in stale:
        print(f"stale lock: {problem}", file=sys.stderr)
    if stale:
        print("run `make lock` to regenerate the locks; align pyproject.toml with them", file=sys.stderr)
    sys.exit(1 if stale else 0)
