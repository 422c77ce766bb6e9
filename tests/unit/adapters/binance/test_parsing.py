"""bookTicker and trade messages as QuoteTick and TradeTick (messages from a real capture)."""

from __future__ import annotations

import pytest

from zq.adapters.binance.errors import BinanceStreamError
from zq.adapters.binance.instruments import parse_symbol
from zq.adapters.binance.parsing import (
    BOOK_TICKER_ENVELOPE,
    MarketDataParser,
    market_size_precision,
    parse_levels,
)
from zq.data.loaders._binance_decimal import decimal_to_raw
from zq.model.enums import AggressorSide
from zq_core.fixed import Price, Quantity

from .test_instruments import BTCUSDT

INSTRUMENT = parse_symbol(BTCUSDT)

# Lines 3 and 4 of binance/spot/btcusdt_20240808.gz (the "data" objects).
BOOK_TICKER = b'{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}'
TRADE = b'{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}'


def test_sizes_are_parsed_at_the_base_asset_precision():
    assert INSTRUMENT.size_precision == 5
    assert market_size_precision(INSTRUMENT) == 8


def test_book_ticker_becomes_a_quote_stamped_on_arrival():
    quote = MarketDataParser(INSTRUMENT).quote(BOOK_TICKER, ts_init=123)
    assert quote.instrument_id == INSTRUMENT.id
    assert quote.bid_price == Price.from_raw(6_183_763, 2)  # 61837.63
    assert quote.ask_price == Price.from_raw(6_183_764, 2)
    assert quote.bid_size == Quantity.from_raw(378_826_000, 8)  # 3.78826000
    assert quote.ask_size == Quantity.from_raw(154_698_000, 8)
    assert quote.ts_event == 123  # spot bookTicker has no event time
    assert quote.ts_init == 123


def test_trade_with_buyer_as_maker_was_a_sell_aggressor():
    trade = MarketDataParser(INSTRUMENT).trade(TRADE, ts_init=9)
    assert trade.price == Price.from_raw(6_183_763, 2)
    assert trade.size == Quantity.from_raw(2_000_000, 8)  # 0.02
    assert trade.aggressor_side is AggressorSide.SELLER
    assert trade.trade_id == "3735683259"
    assert trade.ts_event == 1_723_161_255_342_000_000  # T, ms → ns
    assert trade.ts_init == 9


def test_trade_with_buyer_as_taker_was_a_buy_aggressor():
    trade = MarketDataParser(INSTRUMENT).trade(TRADE.replace(b'"m":true', b'"m":false'), ts_init=9)
    assert trade.aggressor_side is AggressorSide.BUYER


def test_malformed_messages_name_the_stream_and_field():
    parser = MarketDataParser(INSTRUMENT)
    with pytest.raises(BinanceStreamError, match=r"stream btcusdt@trade field p: .*more than 2 decimals"):
        parser.trade(TRADE.replace(b"61837.63000000", b"61837.631"), 1)
    with pytest.raises(BinanceStreamError, match="stream btcusdt@bookTicker: not a bookTicker"):
        parser.quote(b'{"u":1,"s":"BTCUSDT"}', 1)
    with pytest.raises(BinanceStreamError, match=r"field B: .*not a non-negative decimal"):
        parser.quote(BOOK_TICKER.replace(b'"3.78826000"', b'"-1"'), 1)


def test_levels_are_parsed_exactly():
    prices, sizes = parse_levels(b'[["61837.63000000","0.00000001"],["1.5","0"]]', 2, 8, "s", "b")
    assert prices.tolist() == [6_183_763, 150]
    assert sizes.tolist() == [1, 0]
    with pytest.raises(BinanceStreamError, match=r"stream s field b: price levels must be"):
        parse_levels(b'[["1"]]', 2, 8, "s", "b")


def test_bulk_and_per_value_level_parsing_agree():
    # Many levels take the bulk numpy scan, few the per-value parser; both are exact.
    levels = [(f"{60000 + i}.{i % 100:02d}000000", f"{i}.{i:08d}"[:12]) for i in range(40)]
    compact = ("[" + ",".join(f'["{p}","{s}"]' for p, s in levels) + "]").encode()
    spaced = compact.replace(b",", b", ")  # not compact: msgspec and the exact parser
    bulk = parse_levels(compact, 2, 8, "s", "a")
    slow = parse_levels(spaced, 2, 8, "s", "a")
    assert bulk[0].tolist() == slow[0].tolist() == [6_000_000 + 100 * i + i % 100 for i in range(40)]
    assert bulk[1].tolist() == slow[1].tolist()
    assert bulk[1][3] == 3 * 10**8 + 3  # "3.00000003"


def test_bulk_parsing_names_the_bad_level():
    levels = ",".join(['["1.00","1"]'] * 20 + ['["1.005","1"]'])
    with pytest.raises(BinanceStreamError, match=r"stream s field b\[20\]\[0\]: .*more than 2 decimals"):
        parse_levels(f"[{levels}]".encode(), 2, 8, "s", "b")


def test_repeated_and_many_distinct_values_parse_as_the_exact_parser_says():
    # Parsed values are remembered by text (and forgotten past a few thousand); each answer
    # must still be decimal_to_raw's, computed here independently.
    parser = MarketDataParser(INSTRUMENT)
    for step in [*range(5000), *range(0, 5000, 7)]:
        bid = f"{60000 + step / 100:.8f}"
        size = f"{(step % 977) / 1000:.8f}"
        message = BOOK_TICKER.replace(b"61837.63000000", bid.encode()).replace(
            b"3.78826000", size.encode()
        )
        quote = parser.quote(message, ts_init=1)
        assert quote.bid_price.raw == decimal_to_raw(bid, 2)
        assert quote.bid_size.raw == decimal_to_raw(size, 8)
    # A value seen before in a good message is still refused where it is too precise.
    with pytest.raises(BinanceStreamError, match="b"):
        parser.quote(BOOK_TICKER.replace(b"61837.63000000", b"61837.63100000"), ts_init=1)


def test_a_combined_book_ticker_decoded_in_one_pass_gives_the_same_quote():
    envelope = BOOK_TICKER_ENVELOPE.decode(b'{"stream":"btcusdt@bookTicker","data":' + BOOK_TICKER + b"}")
    assert envelope.stream == "btcusdt@bookTicker"
    quote = MarketDataParser(INSTRUMENT).quote_message(envelope.data, ts_init=123)
    assert quote.bid_price == Price.from_raw(6_183_763, 2)  # 61837.63, as above
    assert quote.ask_size == Quantity.from_raw(154_698_000, 8)
    assert quote == MarketDataParser(INSTRUMENT).quote(BOOK_TICKER, ts_init=123)
