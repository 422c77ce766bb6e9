"""exchangeInfo symbols mapped onto CurrencyPair: grids, limits, precisions, clear errors."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from zq.adapters.binance.instruments import (
    BinanceInstrumentError,
    parse_exchange_info,
    parse_symbol,
)
from zq.model.currency import Currency
from zq.model.identifiers import InstrumentId
from zq_core.fixed import Money, Price, Quantity

# Shaped like Binance's documented exchangeInfo answer (values as the venue writes them:
# 8-decimal strings, NOTIONAL on current symbols, MIN_NOTIONAL on older ones).
BTCUSDT = {
    "symbol": "BTCUSDT",
    "status": "TRADING",
    "baseAsset": "BTC",
    "baseAssetPrecision": 8,
    "quoteAsset": "USDT",
    "quotePrecision": 8,
    "quoteAssetPrecision": 8,
    "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
    "filters": [
        {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000", "tickSize": "0.01000000"},
        {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000", "stepSize": "0.00001000"},
        {"filterType": "ICEBERG_PARTS", "limit": 10},
        {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": "83.5", "stepSize": "0.00000000"},
        {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True, "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
    ],
}
ZQTEST = {
    "symbol": "ZQTBNB",
    "status": "BREAK",
    "baseAsset": "ZQT",
    "baseAssetPrecision": 6,
    "quoteAsset": "BNB",
    "quotePrecision": 8,
    "filters": [
        {"filterType": "PRICE_FILTER", "minPrice": "0", "maxPrice": "0", "tickSize": "10.00000000"},
        {"filterType": "LOT_SIZE", "minQty": "1.00000000", "maxQty": "90000000.00000000", "stepSize": "1.00000000"},
        {"filterType": "MIN_NOTIONAL", "minNotional": "0.01000000", "applyToMarket": True, "avgPriceMins": 5},
    ],
}
INFO = {"timezone": "UTC", "serverTime": 1_700_000_000_123, "rateLimits": [], "symbols": [BTCUSDT, ZQTEST]}


def test_btcusdt_maps_filters_onto_the_pair():
    pair = parse_symbol(BTCUSDT)
    assert pair.id == InstrumentId("BTCUSDT.BINANCE")
    assert pair.raw_symbol == "BTCUSDT"
    assert pair.base_currency.code == "BTC"
    assert pair.quote_currency.code == "USDT"
    # tickSize "0.01000000" has 2 significant decimals; stepSize "0.00001000" has 5.
    assert pair.price_precision == 2
    assert pair.size_precision == 5
    assert pair.price_increment == Price.from_raw(1, 2)
    assert pair.size_increment == Quantity.from_raw(1, 5)
    assert pair.min_price == Price.from_raw(1, 2)
    assert pair.max_price == Price.from_raw(100_000_000, 2)  # 1,000,000.00
    assert pair.min_quantity == Quantity.from_raw(1, 5)
    assert pair.max_quantity == Quantity.from_raw(900_000_000, 5)  # 9000.00000
    assert pair.min_notional == Money("5", pair.quote_currency)
    assert pair.max_notional == Money("9000000", pair.quote_currency)


def test_the_pair_refuses_prices_off_the_venues_tick_grid():
    pair = parse_symbol(BTCUSDT)
    assert pair.make_price("61800.20") == Price.from_raw(6_180_020, 2)
    with pytest.raises(ValueError, match=r"more than 2 decimals|tick grid"):
        pair.make_price("61800.205")


def test_zero_bounds_are_disabled_and_a_tick_of_ten_has_precision_zero():
    pair = parse_symbol(ZQTEST, "SANDBOX")
    assert pair.id == InstrumentId("ZQTBNB.SANDBOX")
    assert pair.price_precision == 0
    assert pair.price_increment == Price.from_raw(10, 0)
    assert pair.min_price is None and pair.max_price is None
    assert pair.size_increment == Quantity.from_raw(1, 0)
    assert pair.min_notional == Money("0.01", pair.quote_currency)  # from MIN_NOTIONAL
    assert pair.max_notional is None


def test_an_unknown_asset_is_registered_with_the_symbols_precision():
    parse_symbol(ZQTEST)
    currency = Currency.from_str("ZQT")
    assert currency.precision == 6
    assert currency.is_crypto


def test_exchange_info_keeps_trading_symbols_and_the_server_time():
    pairs = parse_exchange_info(INFO, ts_init=5)
    assert [p.raw_symbol for p in pairs] == ["BTCUSDT"]  # ZQTBNB is on BREAK
    assert pairs[0].ts_event == 1_700_000_000_123_000_000
    assert pairs[0].ts_init == 5
    everything = parse_exchange_info(INFO, trading_only=False)
    assert [p.raw_symbol for p in everything] == ["BTCUSDT", "ZQTBNB"]


def test_requested_symbols_are_selected_and_missing_ones_are_an_error():
    assert [p.raw_symbol for p in parse_exchange_info(INFO, symbols=["BTCUSDT"])] == ["BTCUSDT"]
    with pytest.raises(BinanceInstrumentError, match=r"not listed by the venue: \['ETHUSDT'\]"):
        parse_exchange_info(INFO, symbols=["BTCUSDT", "ETHUSDT"])


def test_fees_are_passed_through():
    pair = parse_symbol(BTCUSDT, maker_fee=Decimal("0.001"), taker_fee=Decimal("0.001"))
    assert pair.maker_fee == Decimal("0.001")


def _broken(filter_type: str, field: str, value: object) -> dict:
    entry = copy.deepcopy(BTCUSDT)
    for item in entry["filters"]:
        if item["filterType"] == filter_type:
            item[field] = value
    return entry


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (_broken("PRICE_FILTER", "tickSize", "0.0x"), "symbol BTCUSDT: filter PRICE_FILTER field tickSize: not a decimal number (got '0.0x')"),
        (_broken("PRICE_FILTER", "tickSize", "0"), "symbol BTCUSDT: filter PRICE_FILTER field tickSize: must be positive"),
        (_broken("LOT_SIZE", "stepSize", 0.001), "symbol BTCUSDT: filter LOT_SIZE field stepSize: missing or not a decimal string (got 0.001)"),
        (_broken("LOT_SIZE", "minQty", "-1"), "symbol BTCUSDT: filter LOT_SIZE field minQty: must be a finite non-negative number"),
        (_broken("PRICE_FILTER", "minPrice", "0.005"), "symbol BTCUSDT: filter PRICE_FILTER field minPrice: .*more than 2 decimals"),
        (_broken("PRICE_FILTER", "tickSize", "0.0000000001"), "symbol BTCUSDT: filter PRICE_FILTER: a step with 10 decimals exceeds zq's 9"),
        ({**BTCUSDT, "filters": BTCUSDT["filters"][1:]}, "symbol BTCUSDT: filter PRICE_FILTER: missing"),
        ({**BTCUSDT, "quoteAsset": ""}, "symbol BTCUSDT: field quoteAsset: missing or not a string"),
        ({**BTCUSDT, "baseAsset": "btc"}, "symbol BTCUSDT: fields baseAsset/quoteAsset: Currency code must be"),
        ({"status": "TRADING"}, "a symbol entry has no symbol name"),
    ],
)
def test_malformed_entries_name_the_symbol_filter_and_field(entry, message):
    with pytest.raises(BinanceInstrumentError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        parse_symbol(entry)


def test_min_quantity_above_max_is_refused_naming_the_symbol():
    entry = _broken("LOT_SIZE", "minQty", "10000")
    with pytest.raises(BinanceInstrumentError, match=r"symbol BTCUSDT: filters: .*min_quantity"):
        parse_symbol(entry)
