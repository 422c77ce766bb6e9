"""Pinning a live process (a node, ``zq venue``) to chosen CPUs.

:func:`set_cpu_affinity` restricts every thread of the calling process, and the threads it
starts later, to the given CPUs (``os.sched_setaffinity``). A node pinned to one CPU and its
venue or other busy processes to others is not moved between caches by the scheduler; see
the measured effect in ``docs/live/binance-adapter.md#latency`` before using it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

__all__ = ["check_cpus", "set_cpu_affinity"]


def check_cpus(cpus: Iterable[int], where: str) -> frozenset[int]:
    """Return ``cpus`` as a set after checking it names CPUs this process may use.

    Raises
    ------
    ValueError
        Naming ``where``, the CPUs given and the ones allowed, for an empty list or a CPU
        outside the process's current affinity.
    """
    wanted = frozenset(cpus)
    allowed = os.sched_getaffinity(0)
    if not wanted:
        raise ValueError(f"{where}: name at least one CPU (this process may use {sorted(allowed)})")
    outside = sorted(cpu for cpu in wanted if cpu not in allowed)
    if outside:
        raise ValueError(
            f"{where} = {sorted(wanted)}: CPU {outside[0]} is not one this process may use "
            f"({sorted(allowed)})"
        )
    return wanted


def set_cpu_affinity(cpus: Iterable[int], where: str = "cpu_affinity") -> frozenset[int]:
    """Run every thread of this process (and those it starts later) on ``cpus`` only.

    Returns the set applied. Raises ValueError as :func:`check_cpus` does.
    """
    wanted = check_cpus(cpus, where)
    try:
        threads = [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:  # no /proc: the calling thread (the ones started later inherit it)
        threads = [0]
    for tid in threads:
        try:
            os.sched_setaffinity(tid, wanted)
        except ProcessLookupError:  # a thread that ended meanwhile
            continue
    return wanted
