"""The README's targets table and `make help` name the same targets; the docs name only paths that exist."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.support.procs import REPO


def test_the_readme_lists_every_make_target_and_no_other() -> None:
    help_text = subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    in_help = set(re.findall(r"^  ([a-z-]+)\s", help_text, re.MULTILINE))
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("## Make targets") :].split("\n## ", 1)[0]
    in_readme = {
        name
        for row in re.findall(r"^\| (.+?) \|", table, re.MULTILINE)
        for name in re.findall(r"`([a-z-]+)`", row)
    }
    assert in_help == in_readme
    assert len(in_help) >= 20


def _documents() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def test_every_repository_path_the_docs_name_exists() -> None:
    """A backticked path that starts at a tracked top-level entry (`scripts/…`, `Dockerfile`) or in a layer
    of the package (`adapters/sens.py`, `application/dry_run.decide_dry_run`) names something that exists;
    patterns (`<APP_ENV>`, `*`) are not paths."""
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True)
    top = {name.split("/")[0] for name in tracked.stdout.split()}
    package = REPO / "src" / "naver_sms"
    layers = {path.name for path in package.iterdir() if path.is_dir()}
    missing = []
    for document in _documents():
        for name in set(re.findall(r"`([^`\s]+)`", document.read_text())):
            if any(mark in name for mark in "<*{$@"):
                continue
            first = name.split("/")[0]
            if first in top:
                found = (REPO / name).exists()
            elif first in layers and "/" in name:
                # A module path may end in one of its names: adapters/sent_log.StoreSentLog.
                module = re.sub(r"\.[A-Za-z_]\w*$", "", name)
                found = any(p.exists() for p in (package / name, package / f"{module}.py", package / module))
            else:
                continue
            if not found:
                missing.append(f"{document.relative_to(REPO)}: {name}")
    assert not missing, missing
