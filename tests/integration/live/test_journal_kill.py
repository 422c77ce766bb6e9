"""A journaling process killed with SIGKILL at random points leaves a readable prefix.

The child (:mod:`tests.integration.live.journal_writer`) journals an endless scripted stream of
orders, fills, position events and account states into a real SQLite file and reports every
sequence number it knows committed. The test kills it (SIGKILL) after a random number of reports, then
checks that the journal reopens and holds exactly a prefix of the stream containing every
reported record, and that the rebuild of that prefix equals the state computed independently
from the same prefix (:mod:`tests.unit.live.reference`).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from itertools import islice
from pathlib import Path

import pytest

from tests.unit.live.reference import assert_rebuilt, reference_state
from tests.unit.live.stream import iter_stream
from zq.cache import Cache
from zq.live.journal import WRITE_AHEAD_TYPES, Journal, JournalMarker
from zq.live.recovery import rebuild
from zq.portfolio import Portfolio

ROOT = Path(__file__).resolve().parents[3]


def run_and_kill(path: Path, seed: int, synchronous: str) -> tuple[list[int], bool]:
    """Start the writer, kill it after a random number of reports; return the reports."""
    rng = random.Random(seed)
    kill_after = rng.randint(1, 600)
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.live.journal_writer", str(path), str(seed),
         synchronous],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    reported: list[int] = []
    finished = False
    for line in child.stdout:
        if line.strip() == "done":
            finished = True
            break
        reported.append(int(line))
        if len(reported) == kill_after:
            os.kill(child.pid, signal.SIGKILL)
            # Lines written before the kill are still in the pipe: those appends returned too.
            for rest in child.stdout:
                if rest.strip() == "done":
                    finished = True
                else:
                    reported.append(int(rest))
            break
    child.stdout.close()
    returncode = child.wait(timeout=30)
    assert finished or returncode == -signal.SIGKILL
    return reported, finished


@pytest.mark.parametrize(
    ("seed", "synchronous"),
    [(1, "FULL"), (2, "FULL"), (3, "FULL"), (4, "NORMAL"), (5, "NORMAL"), (6, "NORMAL")],
)
def test_a_writer_killed_at_a_random_point_leaves_a_prefix_that_rebuilds(
    tmp_path, seed, synchronous
):
    path = tmp_path / "node.journal"
    reported, finished = run_and_kill(path, seed, synchronous)
    assert reported, "the writer reported nothing before it was killed"
    assert not finished, "the writer reached its safety limit before the kill"

    with Journal(path) as journal:  # the kill left a WAL: SQLite recovers it on open
        records = list(journal.replay())
        kept = len(records)
        stream = list(islice(iter_stream(seed), kept))
        # A prefix of the stream, with every record the writer saw committed.
        assert [r.sequence for r in records] == list(range(1, kept + 1))
        assert [r.entry for r in records] == stream[:kept]
        assert kept >= max(reported)
        synced = [
            i + 1
            for i, entry in enumerate(stream)
            if isinstance(entry, (*WRITE_AHEAD_TYPES, JournalMarker)) and i + 1 <= max(reported)
        ]
        assert synced and synced[-1] <= kept
        # What was not committed is gone, never half there: at most one batch past the report.
        assert kept - max(reported) < 64

        cache = Cache()
        summary = rebuild(journal, cache, Portfolio(cache))
        assert summary.last_sequence == kept
        assert_rebuilt(cache, summary, reference_state(stream[:kept]))

        # The journal carries on after the crash with the next sequence number.
        assert journal.append(JournalMarker(name="start", ts_event=0)) == kept + 1
