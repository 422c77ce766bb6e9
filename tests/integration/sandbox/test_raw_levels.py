"""set_raw_levels (what the generated market calls) against set_levels (decimals)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from zq.sandbox import SandboxExchange, default_account, default_symbol


def exchange() -> SandboxExchange:
    return SandboxExchange([default_symbol()], [default_account()])


def test_raw_levels_make_the_same_book_as_the_decimal_ones():
    by_decimal, by_raw = exchange(), exchange()
    state = by_raw.symbol("BTCUSDT")
    bids = [(Decimal("59990.00"), Decimal("1.5")), (Decimal("59980.01"), Decimal("0.00002"))]
    asks = [(Decimal("60000"), Decimal("0.5")), (Decimal("60010"), Decimal("0"))]
    by_decimal.set_levels("BTCUSDT", bids, asks)
    # The raw form, worked out by hand from the symbol's precisions (scales 10**p).
    price_scale, size_scale = state.price_scale, state.size_scale
    raw_bids = [(5_999_000 * price_scale // 100, 15 * size_scale // 10),
                (5_998_001 * price_scale // 100, 2 * size_scale // 100_000)]
    raw_asks = [(60_000 * price_scale, 5 * size_scale // 10), (60_010 * price_scale, 0)]
    by_raw.set_raw_levels("BTCUSDT", raw_bids, raw_asks)
    for side in (1, 2):
        assert by_raw.symbol("BTCUSDT").levels(side, 10) == by_decimal.symbol("BTCUSDT").levels(side, 10)
    assert by_raw.symbol("BTCUSDT").levels(1, 10)[0] == (Decimal("59990"), Decimal("1.5"))
    assert by_raw.symbol("BTCUSDT").update_id == by_decimal.symbol("BTCUSDT").update_id == 1


@pytest.mark.parametrize(
    ("ticks", "size"),
    [(0, 1000), (-100, 1000), (100, -1000), (100, 1)],  # BTCUSDT's step is 1000 raw (0.00001)
)
def test_raw_level_off_the_grid_is_refused_naming_it(ticks: int, size: int):
    venue = exchange()
    state = venue.symbol("BTCUSDT")
    assert state.step_raw == 1000
    price = ticks * state.tick_raw
    with pytest.raises(ValueError, match=rf"BTCUSDT: raw level \({price}, {size}\)"):
        venue.set_raw_levels("BTCUSDT", bids=[(price, size)])
    assert state.update_id == 0  # nothing applied
