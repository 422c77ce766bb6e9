"""Bybit order-book capture loader on small JSON-lines files, malformed ones included."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from zq.data.errors import DataFormatError
from zq.data.loaders import bybit
from zq.model.data import BookFlags
from zq.model.enums import BookAction, OrderSide

ADD, UPDATE, DELETE, CLEAR = (
    int(a) for a in (BookAction.ADD, BookAction.UPDATE, BookAction.DELETE, BookAction.CLEAR)
)
SNAP, LAST = int(BookFlags.SNAPSHOT), int(BookFlags.LAST)


def _message(kind, u, bids=(), asks=(), ts=1000, cts=999):
    return {
        "topic": "orderbook.500.XRPUSDT",
        "type": kind,
        "ts": ts,
        "data": {
            "s": "XRPUSDT",
            "b": [list(b) for b in bids],
            "a": [list(a) for a in asks],
            "u": u,
            "seq": 7,
        },
        "cts": cts,
    }


def _write(tmp_path, messages, name="ob.data"):
    path = tmp_path / name
    path.write_text("".join((m if isinstance(m, str) else json.dumps(m)) + "\n" for m in messages))
    return path


STREAM = [
    _message("delta", 9, bids=[("1.9000", "5")]),  # before the snapshot: skipped
    _message(
        "snapshot",
        10,
        bids=[("1.9531", "6203"), ("1.9530", "2409")],
        asks=[("1.9532", "10480")],
        ts=1000,
        cts=990,
    ),
    _message(
        "delta",
        11,
        bids=[("1.9531", "0"), ("1.9529", "80")],
        asks=[("1.9532", "100")],
        ts=1100,
        cts=1095,
    ),
    _message(
        "snapshot", 1, bids=[("1.9500", "1")], asks=[("1.9600", "2")], ts=1200, cts=1200
    ),  # a restart
    _message("delta", 2, asks=[("1.9600", "0")], ts=1300, cts=1290),
]


def _deltas(path, chunk_size=1000):
    return np.concatenate(list(bybit.book_delta_chunks(path, 4, 0, chunk_size=chunk_size)))


def test_snapshots_clear_the_book_and_deltas_set_level_sizes(tmp_path):
    deltas = _deltas(_write(tmp_path, STREAM))
    assert deltas["action"].tolist() == [
        CLEAR,
        ADD,
        ADD,
        ADD,
        DELETE,
        UPDATE,
        UPDATE,
        CLEAR,
        ADD,
        ADD,
        DELETE,
    ]
    assert deltas["side"].tolist() == [0, 1, 1, 2, 1, 1, 2, 0, 1, 2, 2]
    assert deltas["price"].tolist() == [
        0,
        19531,
        19530,
        19532,
        19531,
        19529,
        19532,
        0,
        19500,
        19600,
        19600,
    ]
    assert deltas["size"].tolist() == [0, 6203, 2409, 10480, 0, 80, 100, 0, 1, 2, 0]
    assert deltas["flags"].tolist() == [
        SNAP,
        SNAP,
        SNAP,
        SNAP | LAST,
        0,
        0,
        LAST,
        SNAP,
        SNAP,
        SNAP | LAST,
        LAST,
    ]
    assert deltas["sequence"].tolist() == [10] * 4 + [11] * 3 + [1] * 3 + [2]
    assert deltas["ts_event"][:4].tolist() == [990_000_000] * 4  # cts, the matching engine
    assert deltas["ts_init"][:4].tolist() == [1_000_000_000] * 4  # ts, the publication


def test_chunks_end_on_message_boundaries_and_change_nothing(tmp_path):
    path = _write(tmp_path, STREAM)
    chunks = list(bybit.book_delta_chunks(path, 4, 0, chunk_size=1))
    assert len(chunks) == 4
    assert all(chunk["flags"][-1] & LAST for chunk in chunks)
    assert np.concatenate(chunks).tobytes() == _deltas(path).tobytes()


def test_a_zipped_capture_is_read(tmp_path):
    path = tmp_path / "ob.data.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "2024-12-01_XRPUSDT_ob500.data", "".join(json.dumps(m) + "\n" for m in STREAM)
        )
    assert len(_deltas(path)) == 11


def test_a_gap_in_update_ids_is_refused_naming_the_line(tmp_path):
    path = _write(tmp_path, [*STREAM[1:3], _message("delta", 13, bids=[("1.9", "1")])])
    with pytest.raises(
        DataFormatError, match="gap in update ids: expected u=12 after 11"
    ) as caught:
        _deltas(path)
    assert (caught.value.line, caught.value.field, caught.value.value) == (3, "u", 13)


@pytest.mark.parametrize(
    ("line", "problem", "field"),
    [
        ("{not json", "not JSON", None),
        (json.dumps(_message("update", 11)), "invalid message", None),
        (
            json.dumps(
                {**_message("delta", 11), "data": {"s": "X", "b": [[1.95, "1"]], "a": [], "u": 11}}
            ),
            r"Expected `str`, got `float`",
            None,
        ),
        (
            json.dumps(_message("delta", 11, bids=[("1.95311", "1")])),
            "more decimals than the precision",
            "price",
        ),
        (json.dumps(_message("delta", 11, asks=[("1.9531", "-1")])), "negative value", "size"),
        (json.dumps(_message("delta", 11, asks=[("abc", "1")])), "not a number", "price"),
    ],
)
def test_malformed_messages_are_refused_naming_line_and_field(tmp_path, line, problem, field):
    path = _write(tmp_path, [STREAM[1], line])
    with pytest.raises(DataFormatError, match=problem) as caught:
        _deltas(path)
    assert caught.value.line == 2
    assert caught.value.field == field


def test_delta_objects_are_of_the_instrument(tmp_path):
    deltas = list(bybit.book_deltas(_write(tmp_path, STREAM), "XRPUSDT-LINEAR.BYBIT", 4, 0))
    assert deltas[1].side is OrderSide.BUY and str(deltas[1].price) == "1.9531"
    assert deltas[1].flags == SNAP
