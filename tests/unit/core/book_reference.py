"""Pure-Python oracles for ``zq_core.book``: the same book rules, written plainly.

Nothing here is fast or clever; it states what the compiled books must compute. Prices
and sizes are raw ints. ``apply`` returns True when a delta is applied, False when a
non-strict L3 book ignores it, and raises `RefError` (leaving the book unchanged) where
the compiled book must raise ``BookIntegrityError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

ADD, UPDATE, DELETE, CLEAR, FILL = 1, 2, 3, 4, 5
BID, ASK = 1, 2
INT64_MAX = 2**63 - 1

Level = tuple[int, int]  # (price, size)


class RefError(Exception):
    """The delta must be refused."""


def exact_decimal(value: Fraction) -> Decimal:
    """``value`` as a Decimal: exact if its expansion terminates, else 34 digits half-even."""
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    with localcontext() as context:
        if denominator == 1:
            context.prec = 400
        else:
            context.prec = 34
            context.rounding = ROUND_HALF_EVEN
        return Decimal(value.numerator) / Decimal(value.denominator)


def check_common(action: int, side: int, size: int) -> None:
    """The refusals every book shares, in the compiled order."""
    if side not in (BID, ASK) and not (action == CLEAR and side == 0):
        raise RefError("side")
    if size < 0:
        raise RefError("size")
    if action not in (ADD, UPDATE, DELETE, CLEAR, FILL):
        raise RefError("action")


@dataclass
class RefBook:
    """Levels per side as {price: size}; the queries every book shares."""

    price_precision: int = 2
    sides: dict[int, dict[int, int]] = field(default_factory=lambda: {BID: {}, ASK: {}})
    sequence: int = 0
    ts_last: int = 0
    update_count: int = 0

    def levels(self, side: int) -> list[Level]:
        """All levels of ``side``, best first."""
        return sorted(self.sides[side].items(), reverse=side == BID)

    def best(self, side: int) -> Level | None:
        levels = self.levels(side)
        return levels[0] if levels else None

    def spread(self) -> int | None:
        bid, ask = self.best(BID), self.best(ASK)
        return None if bid is None or ask is None else ask[0] - bid[0]

    def mid(self) -> Decimal | None:
        bid, ask = self.best(BID), self.best(ASK)
        if bid is None or ask is None:
            return None
        return exact_decimal(Fraction(bid[0] + ask[0], 2 * 10**self.price_precision))

    def is_crossed(self) -> bool:
        bid, ask = self.best(BID), self.best(ASK)
        return bid is not None and ask is not None and bid[0] > ask[0]

    def is_locked(self) -> bool:
        bid, ask = self.best(BID), self.best(ASK)
        return bid is not None and ask is not None and bid[0] == ask[0]

    def size_at(self, side: int, price: int) -> int:
        return self.sides[side].get(price, 0)

    def volume_within(self, side: int, low: int, high: int) -> int:
        return sum(size for price, size in self.sides[side].items() if low <= price <= high)

    def avg_fill_price(self, taker_side: int, quantity: int) -> Decimal | None:
        remaining, notional = quantity, 0
        for price, size in self.levels(ASK if taker_side == BID else BID):
            take = min(remaining, size)
            notional += take * price
            remaining -= take
            if remaining == 0:
                return exact_decimal(Fraction(notional, quantity * 10**self.price_precision))
        return None

    def record(self, sequence: int, ts_event: int) -> bool:
        self.sequence, self.ts_last = sequence, ts_event
        self.update_count += 1
        return True

    def clear(self, side: int) -> None:
        for cleared in (BID, ASK) if side == 0 else (side,):
            self.sides[cleared].clear()


class RefL2(RefBook):
    """Market by price: ADD/UPDATE set a level, DELETE removes it, FILL reduces it."""

    def apply(
        self, action: int, side: int, price: int, size: int, order_id: int = 0,
        sequence: int = 0, ts_event: int = 0,
    ) -> bool:
        check_common(action, side, size)
        if action == CLEAR:
            self.clear(side)
            return self.record(sequence, ts_event)
        levels = self.sides[side]
        if action in (ADD, UPDATE):
            if size:
                levels[price] = size
            else:
                levels.pop(price, None)
        elif action == DELETE:
            levels.pop(price, None)
        elif price in levels:  # FILL
            levels[price] -= size
            if levels[price] <= 0:
                del levels[price]
        return self.record(sequence, ts_event)


class RefL1(RefBook):
    """Top of book: L2 rules applied to the best level only; deeper levels are forgotten."""

    def apply(
        self, action: int, side: int, price: int, size: int, order_id: int = 0,
        sequence: int = 0, ts_event: int = 0,
    ) -> bool:
        check_common(action, side, size)
        if action == CLEAR:
            self.clear(side)
            return self.record(sequence, ts_event)
        top = self.best(side)
        at_top = top is not None and top[0] == price
        better = top is None or (price > top[0] if side == BID else price < top[0])
        if action in (ADD, UPDATE) and (at_top or (size and better)):
            self.set_top(side, price, size)
        elif action == DELETE and at_top:
            self.set_top(side, price, 0)
        elif action == FILL and at_top:
            assert top is not None
            self.set_top(side, price, max(top[1] - size, 0))
        return self.record(sequence, ts_event)

    def apply_quote(self, bid: int, bid_size: int, ask: int, ask_size: int, ts_event: int = 0) -> None:
        self.set_top(BID, bid, bid_size)
        self.set_top(ASK, ask, ask_size)
        self.ts_last = ts_event
        self.update_count += 1

    def set_top(self, side: int, price: int, size: int) -> None:
        self.sides[side] = {price: size} if size else {}


@dataclass
class RefOrder:
    side: int
    price: int
    size: int


@dataclass
class RefL3(RefBook):
    """Market by order: orders in time priority per level; the levels derive from them."""

    keep_on_decrease: bool = True
    strict: bool = True
    orders: dict[int, RefOrder] = field(default_factory=dict)
    queues: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    faults: int = 0

    def apply(
        self, action: int, side: int, price: int, size: int, order_id: int = 0,
        sequence: int = 0, ts_event: int = 0,
    ) -> bool:
        check_common(action, side, size)
        if action == CLEAR:
            self.clear(side)
            return self.record(sequence, ts_event)
        if action == ADD:
            if size == 0 or order_id in self.orders:
                raise RefError("add")
            self.check_room(side, price, size)
            self.enqueue(order_id, RefOrder(side, price, size))
            return self.record(sequence, ts_event)
        order = self.orders.get(order_id)
        if order is None or order.side != side:
            if self.strict:
                raise RefError("unknown order")
            self.faults += 1
            return False
        if action == UPDATE:
            self.modify(order_id, order, price, size)
        elif size >= order.size or (size == 0 and action == DELETE):
            self.remove(order_id)
        else:
            order.size -= size
            self.sides[side][order.price] -= size
        return self.record(sequence, ts_event)

    def modify(self, order_id: int, order: RefOrder, price: int, size: int) -> None:
        if size == 0:
            self.remove(order_id)
            return
        if price == order.price and size <= order.size and self.keep_on_decrease:
            self.sides[order.side][price] -= order.size - size
            order.size = size
            return
        self.check_room(order.side, price, size - (order.size if price == order.price else 0))
        self.remove(order_id)
        self.enqueue(order_id, RefOrder(order.side, price, size))

    def check_room(self, side: int, price: int, extra: int) -> None:
        if self.sides[side].get(price, 0) + extra > INT64_MAX:
            raise RefError("overflow")

    def enqueue(self, order_id: int, order: RefOrder) -> None:
        self.orders[order_id] = order
        self.queues.setdefault((order.side, order.price), []).append(order_id)
        levels = self.sides[order.side]
        levels[order.price] = levels.get(order.price, 0) + order.size

    def remove(self, order_id: int) -> None:
        order = self.orders.pop(order_id)
        key = (order.side, order.price)
        self.queues[key].remove(order_id)
        if not self.queues[key]:
            del self.queues[key]
            del self.sides[order.side][order.price]
        else:
            self.sides[order.side][order.price] -= order.size

    def clear(self, side: int) -> None:
        for order_id, order in list(self.orders.items()):
            if side in (0, order.side):
                self.remove(order_id)

    def queue(self, side: int, price: int) -> list[tuple[int, int]]:
        return [(oid, self.orders[oid].size) for oid in self.queues.get((side, price), [])]

    def queue_position(self, order_id: int) -> tuple[int, int]:
        order = self.orders[order_id]
        queue = self.queues[(order.side, order.price)]
        ahead = queue[: queue.index(order_id)]
        return len(ahead), sum(self.orders[oid].size for oid in ahead)


# --- Comparing a compiled book with its reference -----------------------------------------


def compiled_levels(book: object, side: int) -> list[Level]:
    """Every level of ``book`` on ``side`` as raw ``(price, size)``, best first."""
    arrays = book.to_arrays()  # type: ignore[attr-defined]
    name = "bid" if side == BID else "ask"
    return list(zip(arrays[f"{name}_price"].tolist(), arrays[f"{name}_size"].tolist(), strict=True))


def assert_same_book(book: object, ref: RefBook) -> None:
    """The compiled book shows the same levels, top of book and bookkeeping as ``ref``."""
    for side in (BID, ASK):
        assert compiled_levels(book, side) == ref.levels(side), side
    bid, ask = ref.best(BID), ref.best(ASK)
    assert book.best_bid_raw() == (bid and bid[0])  # type: ignore[attr-defined]
    assert book.best_ask_raw() == (ask and ask[0])  # type: ignore[attr-defined]
    assert (book.sequence, book.ts_last, book.update_count) == (  # type: ignore[attr-defined]
        ref.sequence, ref.ts_last, ref.update_count
    )
    book.check_integrity()  # type: ignore[attr-defined]
