"""Process-tree facts from /proc: what a session of processes is running and how much memory it holds."""

from __future__ import annotations

import os
from pathlib import Path


def session_processes(sid: int) -> list[tuple[int, str, int]]:
    """(pid, command line, RSS bytes) of every live process in session sid."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            state, session, rss_pages = fields[0], int(fields[3]), int(fields[21])
            if session != sid or state == "Z":
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        found.append((int(entry.name), cmdline, rss_pages * os.sysconf("SC_PAGE_SIZE")))
    return found


def descendants(root: int) -> list[tuple[int, str]]:
    """(pid, command line) of every live process below root."""
    parents, commands = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                commands[int(entry.name)] = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                )
            except (OSError, IndexError, ValueError):
                continue
    below, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid in commands]
        below += children
        frontier += children
    return [(pid, commands[pid]) for pid in below]


def browser_processes(sid: int) -> list[str]:
    return [cmd for _, cmd, _ in session_processes(sid) if "chrom" in cmd]


def zombies(sid: int) -> int:
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            count += fields[0] == "Z" and int(fields[3]) == sid
    return count


def tree_rss(sid: int) -> int:
    return sum(rss for _, _, rss in session_processes(sid))
