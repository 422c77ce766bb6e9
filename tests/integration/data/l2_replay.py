"""Replay ``DELTA_DTYPE`` arrays into the compiled L2 book, checking it where it is consistent.

A venue message becomes several deltas, and the book is only meaningful after the last of
them (flagged ``BookFlags.LAST``): mid-message, a level may already be added on one side
and not yet removed on the other. So the checks run after every ``LAST`` delta.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from zq.model.data import BookFlags
from zq_core.book import L2Book


@dataclass
class ReplayReport:
    """What a replay saw at the message boundaries."""

    deltas: int = 0
    checks: int = 0
    crossed: int = 0
    locked: int = 0
    first_crossed_ts: int | None = None


def replay(book: L2Book, deltas: npt.NDArray[np.void], report: ReplayReport) -> ReplayReport:
    """Apply ``deltas`` message by message; after each, check integrity and crossing."""
    ends = np.flatnonzero(deltas["flags"] & BookFlags.LAST) + 1
    start = 0
    for end in ends.tolist():
        book.apply_batch(deltas[start:end])
        start = end
        book.check_integrity()
        report.checks += 1
        if book.is_crossed():
            report.crossed += 1
            if report.first_crossed_ts is None:
                report.first_crossed_ts = int(deltas["ts_init"][end - 1])
        report.locked += bool(book.is_locked())
    if start < len(deltas):
        book.apply_batch(deltas[start:])
    report.deltas += len(deltas)
    return report
