"""The child process of the kill test: journals the scripted stream as a node would.

``python -m tests.integration.live.journal_writer PATH SEED ORDERS SYNCHRONOUS`` appends the
stream of :func:`tests.unit.live.stream.scripted_stream` (write-ahead markers synced, the rest
in batches of 64) and prints, flushed, ``<sequence>`` each time an append returned with
everything up to that sequence committed. It ends with ``done`` unless it is killed first.
"""

from __future__ import annotations

import sys

from tests.unit.live.stream import scripted_stream
from zq.live.journal import Journal, JournalMarker


def main(path: str, seed: str, orders: str, synchronous: str) -> None:
    stream = scripted_stream(int(seed), int(orders))
    assert synchronous in ("FULL", "NORMAL")
    with Journal(path, synchronous=synchronous, batch_size=64) as journal:  # type: ignore[arg-type]
        for entry in stream:
            sequence = journal.append(entry, sync=True if isinstance(entry, JournalMarker) else None)
            if journal.pending == 0:
                print(sequence, flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
