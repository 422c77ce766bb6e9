"""An independent, pure-Python market-by-order (L3) book: the oracle for the compiled one.

It applies Databento MBO records as they come out of ``databento-dbn`` (action and side as
the DBN characters, prices in DBN's 1e-9 units), so it shares no code with zq's loader or
with ``zq_core.book``. It is deliberately plain: a dict of orders, a dict of FIFO queues per
price, and a sorted index of the prices of each side.

Semantics (Databento MBO, the same rules zq's ``L3Book`` follows):

- ``A`` adds an order at the back of its price's queue;
- ``C`` cancels ``size`` of an order; the order leaves the book when nothing remains;
- ``M`` modifies price and size: the order keeps its place only if the price is the same and
  the size did not grow (with ``keep_place_on_equal_size=False``: only if the size shrank),
  otherwise it goes to the back of the (new) price's queue;
- ``R`` clears the book;
- ``T``, ``F`` and ``N`` do not change the book (the size change of a fill arrives in a later
  ``C`` or ``M`` record).

A record naming an unknown order, an order added twice or a cancel of more than the order
holds raises :class:`ReferenceBookError`, so a replay that passes had none.
"""

from __future__ import annotations

from itertools import islice

from sortedcontainers import SortedDict

__all__ = ["ReferenceBookError", "ReferenceL3Book"]

BID = "B"
ASK = "A"


class ReferenceBookError(AssertionError):
    """A record the book cannot apply (unknown order, duplicate add, over-cancel)."""


class _Side:
    """One side of the book: FIFO queues of order ids per price, and level totals."""

    __slots__ = ("queues", "totals")

    def __init__(self) -> None:
        self.queues: dict[int, dict[int, None]] = {}  # price -> order ids in time priority
        self.totals: SortedDict[int, int] = SortedDict()  # price -> total size

    def insert(self, order_id: int, price: int, size: int) -> None:
        queue = self.queues.get(price)
        if queue is None:
            queue = self.queues[price] = {}
            self.totals[price] = 0
        queue[order_id] = None
        self.totals[price] += size

    def remove(self, order_id: int, price: int, size: int) -> None:
        queue = self.queues[price]
        del queue[order_id]
        if queue:
            self.totals[price] -= size
        else:
            del self.queues[price]
            del self.totals[price]

    def reduce(self, price: int, size: int) -> None:
        self.totals[price] -= size


class ReferenceL3Book:
    """A market-by-order book fed with raw DBN MBO fields.

    Parameters
    ----------
    strict : bool
        Raise on a record that names an unknown order (the default); otherwise count it in
        ``faults`` and skip it.
    keep_place_on_equal_size : bool
        Whether a modify to the same price and the same size keeps the order's place (the
        default, zq's contract: only a price change or a size increase loses priority).
    """

    def __init__(self, strict: bool = True, keep_place_on_equal_size: bool = True) -> None:
        self.strict = strict
        self.keep_place_on_equal_size = keep_place_on_equal_size
        self.faults = 0
        self.orders: dict[int, list[object]] = {}  # order id -> [side, price, size]
        self._sides = {BID: _Side(), ASK: _Side()}

    # -- applying ------------------------------------------------------------------------

    def apply(self, action: str, side: str, price: int, size: int, order_id: int) -> None:
        """Apply one MBO record (action and side are DBN characters, price in 1e-9 units)."""
        if action == "A":
            self._add(side, price, size, order_id)
        elif action == "C":
            self._cancel(price, size, order_id)
        elif action == "M":
            self._modify(side, price, size, order_id)
        elif action == "R":
            self.clear()
        elif action in ("T", "F", "N"):
            return
        else:
            raise ReferenceBookError(f"unknown action {action!r}")

    def clear(self) -> None:
        """Remove every order."""
        self.orders.clear()
        self._sides = {BID: _Side(), ASK: _Side()}

    def _fault(self, message: str) -> None:
        self.faults += 1
        if self.strict:
            raise ReferenceBookError(message)

    def _add(self, side: str, price: int, size: int, order_id: int) -> None:
        if order_id in self.orders:
            self._fault(f"add of order {order_id} which is already on the book")
            return
        if side not in self._sides or size <= 0:
            self._fault(f"add of order {order_id} with side {side!r} size {size}")
            return
        self.orders[order_id] = [side, price, size]
        self._sides[side].insert(order_id, price, size)

    def _cancel(self, price: int, size: int, order_id: int) -> None:
        order = self.orders.get(order_id)
        if order is None:
            self._fault(f"cancel of unknown order {order_id}")
            return
        side, resting_price, remaining = order
        assert isinstance(side, str) and isinstance(resting_price, int)
        assert isinstance(remaining, int)
        if price != resting_price:
            self._fault(f"cancel of order {order_id} at {price}, it rests at {resting_price}")
            return
        if size > remaining:
            self._fault(f"cancel of {size} from order {order_id} which holds {remaining}")
            return
        book_side = self._sides[side]
        if size == 0 or size == remaining:
            book_side.remove(order_id, resting_price, remaining)
            del self.orders[order_id]
        else:
            order[2] = remaining - size
            book_side.reduce(resting_price, size)

    def _modify(self, side: str, price: int, size: int, order_id: int) -> None:
        order = self.orders.get(order_id)
        if order is None:
            self._fault(f"modify of unknown order {order_id}")
            return
        old_side, old_price, old_size = order
        assert isinstance(old_side, str) and isinstance(old_price, int)
        assert isinstance(old_size, int)
        if side != old_side:
            self._fault(f"modify of order {order_id} changes its side")
            return
        book_side = self._sides[side]
        if size <= 0:
            book_side.remove(order_id, old_price, old_size)
            del self.orders[order_id]
        elif price == old_price and (
            size < old_size or (size == old_size and self.keep_place_on_equal_size)
        ):
            order[2] = size
            book_side.reduce(price, old_size - size)  # keeps its place in the queue
        else:
            book_side.remove(order_id, old_price, old_size)
            book_side.insert(order_id, price, size)  # back of the queue
            order[1] = price
            order[2] = size

    # -- queries -------------------------------------------------------------------------

    def best_bid(self) -> int | None:
        """The best bid price (1e-9 units), or None on an empty side."""
        totals = self._sides[BID].totals
        return totals.peekitem(-1)[0] if totals else None

    def best_ask(self) -> int | None:
        """The best ask price (1e-9 units), or None on an empty side."""
        totals = self._sides[ASK].totals
        return totals.peekitem(0)[0] if totals else None

    def is_crossed(self) -> bool:
        """Whether the best bid is above the best ask."""
        bid, ask = self.best_bid(), self.best_ask()
        return bid is not None and ask is not None and bid > ask

    def bids(self, depth: int | None = None) -> list[tuple[int, int]]:
        """``(price, total size)`` of the best ``depth`` bid levels (all if None), best first."""
        totals = self._sides[BID].totals
        prices = islice(totals.irange(reverse=True), depth)
        return [(price, totals[price]) for price in prices]

    def asks(self, depth: int | None = None) -> list[tuple[int, int]]:
        """``(price, total size)`` of the best ``depth`` ask levels (all if None), best first."""
        totals = self._sides[ASK].totals
        prices = islice(totals.irange(), depth)
        return [(price, totals[price]) for price in prices]

    def queue(self, side: str, price: int) -> list[int]:
        """The order ids resting at ``price`` on ``side``, in time priority."""
        return list(self._sides[side].queues.get(price, ()))

    @property
    def order_count(self) -> int:
        """The number of orders on the book."""
        return len(self.orders)
