"""CPU time of processes read from /proc (Linux), for the benchmarks' cost accounting."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")
#: PostgreSQL's server-wide processes that work for every database.
_PG_SHARED = (b"walwriter", b"checkpointer", b"background writer")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()  # fields from the 3rd (state) on


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of one live process (0 once it is gone)."""
    fields = _stat_fields(pid)
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / _TICK


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def group_cpu_seconds(pgid: int) -> float:
    """CPU time of the live processes in process group `pgid` (a service started in its own
    session: uvicorn and its workers, a Celery worker and its pool)."""
    total = 0.0
    for pid in _pids():
        fields = _stat_fields(pid)
        if fields is not None and int(fields[2]) == pgid:
            total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


def postgres_cpu_seconds(database: str) -> float:
    """CPU time of the PostgreSQL backends serving `database` (their process titles name it) and
    of the server's WAL writer, checkpointer and background writer, so that other databases'
    work on the same server (another benchmark, tests) is mostly not counted."""
    total = 0.0
    for pid in _pids():
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres:") and (
            f" {database} ".encode() in title or any(w in title for w in _PG_SHARED)
        ):
            total += process_cpu_seconds(pid)
    return total


def named_cpu_seconds(name: bytes) -> float:
    """CPU time of the live processes whose command line starts with `name` (redis-server)."""
    total = 0.0
    for pid in _pids():
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(name):
                total += process_cpu_seconds(pid)
        except OSError:
            continue
    return total


def reference_ms(repeats: int = 5) -> float:
    """Milliseconds one core takes for a fixed pure-Python workload (JSON, hashing, dicts and
    integer arithmetic, as a request's code does), the best of `repeats`: per-core speed differs
    between machines by 2x or more, so a run prints it beside its figures to compare runs."""
    doc = {"number": "INV-1", "lines": [{"qty": i, "price": 10_000 + i} for i in range(20)]}
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        total = 0
        for i in range(4_000):
            text = json.dumps({**doc, "seq": i}, sort_keys=True)
            total += int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
            total += sum(line["qty"] * line["price"] for line in json.loads(text)["lines"])
        best = min(best, (time.process_time() - start) * 1000)
    return best
