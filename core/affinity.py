"""CPU affinity: which cores a process may run on, pinning every thread of it, and the core split
between the evaluation worker (measurement cores) and the dashboard (the rest). Pure Python, no torch:
the dashboard imports it."""
from __future__ import annotations

import os
from collections.abc import Sequence


def parse_cores(text: str) -> list[int]:
    """'1,3-5' -> [1, 3, 4, 5]."""
    out: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    if not out:
        raise ValueError(f"no cores in {text!r}; write e.g. 1,2 or 1-3")
    return sorted(out)


def available_cores() -> list[int] | None:
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None


def measurement_cores() -> list[int] | None:
    """All cores this process may use but the lowest, when there are at least two (None: no affinity API)."""
    cores = available_cores()
    if cores is None:
        return None
    return cores[1:] if len(cores) >= 2 else cores


def pin_process(cores: Sequence[int]) -> bool:
    """Restrict every thread of this process (and the threads it creates later) to `cores`."""
    if not hasattr(os, "sched_setaffinity") or not cores:
        return False
    ok = False
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        tids = [0]
    for tid in tids:
        try:
            os.sched_setaffinity(tid, set(cores))
            ok = True
        except OSError:  # a thread that just ended, or a core outside our cgroup
            continue
    return ok


def isolate_from(worker_cores: Sequence[int] | None) -> list[int] | None:
    """Keep this (dashboard) process off the worker's measurement cores, where it has others;
    returns the cores it now runs on, or None when nothing changed. LLM_EVAL_ISOLATE=0 turns it off
    (the test suite, which shares its process with many things)."""
    cores = available_cores()
    if not worker_cores or cores is None or os.environ.get("LLM_EVAL_ISOLATE", "1") == "0":
        return None
    rest = [c for c in cores if c not in set(worker_cores)]
    if not rest or rest == cores:
        return None
    return rest if pin_process(rest) else None
