"""Process-tree facts from /proc: what a session of processes is running and how much memory it holds."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple


class Process(NamedTuple):
    pid: int
    state: str  # the kernel's letter: R running, S sleeping, T stopped, Z zombie, ...
    parent: int
    session: int
    rss_bytes: int
    command: str


def read_process(pid: int) -> Process:
    """One process's facts; OSError once it is gone."""
    entry = Path(f"/proc/{pid}")
    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
    command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return Process(pid, fields[0], int(fields[1]), int(fields[3]), rss, command)


def processes() -> Iterator[Process]:
    """Every process /proc shows now, skipping those that end while being read."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                yield read_process(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue


def session_processes(sid: int) -> list[tuple[int, str, int]]:
    """(pid, command line, RSS bytes) of every live process in session sid."""
    return [(p.pid, p.command, p.rss_bytes) for p in processes() if p.session == sid and p.state != "Z"]


def descendants(root: int) -> list[Process]:
    """Every live process below root."""
    children: dict[int, list[Process]] = {}
    for process in processes():
        if process.state != "Z":
            children.setdefault(process.parent, []).append(process)
    below, frontier = [], [root]
    while frontier:
        found = children.get(frontier.pop(), [])
        below += found
        frontier += [p.pid for p in found]
    return below


def browser_processes(sid: int) -> list[str]:
    return [cmd for _, cmd, _ in session_processes(sid) if "chrom" in cmd]


def zombies(sid: int) -> int:
    return sum(p.state == "Z" and p.session == sid for p in processes())


def tree_rss(sid: int) -> int:
    return sum(rss for _, _, rss in session_processes(sid))
