"""The README's targets table and `make help` name the same targets."""

from __future__ import annotations

import re
import subprocess

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
