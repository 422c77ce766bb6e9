"""The child process of the kill test: journals the scripted stream as a node would.

``python -m tests.integration.live.journal_writer PATH SEED SYNCHRONOUS`` appends the endless
stream of :func:`tests.unit.live.stream.iter_stream` (write-ahead markers synced, the rest in
batches of 64) and prints, flushed, ``<sequence>`` each time an append returned with everything
up to that sequence committed. It writes until it is killed (or, as a safety net, until
``LIMIT`` records, then prints ``done``), so the kill always lands while it writes.
"""

from __future__ import annotations

import sys
from itertools import islice

from tests.unit.live.stream import iter_stream
from zq.live.journal import Journal, JournalMarker

LIMIT = 200_000


def main(path: str, seed: str, synchronous: str) -> None:
    stream = islice(iter_stream(int(seed)), LIMIT)
    assert synchronous in ("FULL", "NORMAL")
    with Journal(path, synchronous=synchronous, batch_size=64) as journal:  # type: ignore[arg-type]
        for entry in stream:
            sequence = journal.append(entry, sync=True if isinstance(entry, JournalMarker) else None)
            if journal.pending == 0:
                print(sequence, flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
