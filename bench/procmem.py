"""Memory of another process, read from /proc (shared by the benchmarks)."""

from __future__ import annotations

from pathlib import Path


def rollup(pid: int) -> tuple[int, int]:
    """(Rss, Pss) of a process in bytes, or (0, 0) once it is gone."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key == "Rss":
                rss = int(rest.split()[0]) * 1024
            elif key == "Pss":
                pss = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return rss, pss
