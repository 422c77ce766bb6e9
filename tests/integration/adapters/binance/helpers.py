"""Helpers of the adapter's integration tests: waiting on conditions, a reference book."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

import numpy as np

from zq.model.enums import BookAction, OrderSide


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    """Poll ``condition`` every 5 ms until it holds; fail the test after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.005)


class ReferenceBook:
    """A plain dict book that applies DELTA_DTYPE rows: the test's own model of L2."""

    def __init__(self, price_precision: int, size_precision: int) -> None:
        self.scale_price = Decimal(10) ** -price_precision
        self.scale_size = Decimal(10) ** -size_precision
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.clears = 0

    def apply(self, rows: np.ndarray) -> None:
        for row in rows.tolist():
            _, _, price, size, _, _, action, side, _, _ = row
            if action == BookAction.CLEAR:
                self.bids.clear()
                self.asks.clear()
                self.clears += 1
                continue
            book = self.bids if side == OrderSide.BUY else self.asks
            if action == BookAction.DELETE or size == 0:
                book.pop(price, None)
            else:
                book[price] = size

    def levels(self, side: int, limit: int = 1000) -> list[tuple[Decimal, Decimal]]:
        """Best first, as decimals (side 1 bids, 2 asks)."""
        book = self.bids if side == OrderSide.BUY else self.asks
        prices = sorted(book, reverse=side == OrderSide.BUY)[:limit]
        return [
            ((p * self.scale_price).normalize(), (book[p] * self.scale_size).normalize())
            for p in prices
        ]
