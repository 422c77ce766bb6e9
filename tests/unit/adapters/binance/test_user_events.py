"""User-data-stream events decoded into typed structs; unknown events kept, bad ones named."""

from __future__ import annotations

import pytest

from zq.adapters.binance.errors import BinanceStreamError
from zq.adapters.binance.user_stream import (
    AccountPosition,
    BalanceUpdate,
    ExecutionReport,
    ListenKeyExpired,
    UnknownUserEvent,
    parse_user_event,
)

# Shaped as Binance's user data stream documentation shows an executionReport (a fill).
EXECUTION_REPORT = (
    b'{"e":"executionReport","E":1499405658658,"s":"ETHBTC","c":"mUvoqJxFIILMdfAW5iGSOW",'
    b'"S":"BUY","o":"LIMIT","f":"GTC","q":"1.00000000","p":"0.10264410","P":"0.00000000",'
    b'"F":"0.00000000","g":-1,"C":"","x":"TRADE","X":"PARTIALLY_FILLED","r":"NONE",'
    b'"i":4293153,"l":"0.40000000","z":"0.40000000","L":"0.10264410","n":"0.00040000",'
    b'"N":"ETH","T":1499405658657,"t":718,"I":8641984,"w":false,"m":true,"M":false,'
    b'"O":1499405658657,"Z":"0.04105764","Y":"0.04105764","Q":"0.00000000",'
    b'"W":1499405658657,"V":"NONE"}'
)


def test_execution_report_fields_are_mapped():
    report = parse_user_event(EXECUTION_REPORT)
    assert isinstance(report, ExecutionReport)
    assert report.symbol == "ETHBTC"
    assert report.client_order_id == "mUvoqJxFIILMdfAW5iGSOW"
    assert report.side == "BUY" and report.order_type == "LIMIT"
    assert report.execution_type == "TRADE" and report.is_fill
    assert report.order_status == "PARTIALLY_FILLED"
    assert report.order_id == 4293153 and report.trade_id == 718
    assert (report.last_qty, report.last_price, report.cumulative_qty) == ("0.40000000", "0.10264410", "0.40000000")
    assert report.commission == "0.00040000" and report.commission_asset == "ETH"
    assert report.is_maker and not report.is_working
    assert report.transaction_time == 1499405658657


def test_account_position_balance_update_and_expiry():
    position = parse_user_event(b'{"e":"outboundAccountPosition","E":1564034571105,"u":1564034571073,"B":[{"a":"ETH","f":"10000.000000","l":"0.000000"}]}')
    assert isinstance(position, AccountPosition)
    assert [(b.asset, b.free, b.locked) for b in position.balances] == [("ETH", "10000.000000", "0.000000")]
    update = parse_user_event(b'{"e":"balanceUpdate","E":1573200697110,"a":"BTC","d":"100.00000000","T":1573200697068}')
    assert isinstance(update, BalanceUpdate) and update.delta == "100.00000000"
    expired = parse_user_event(b'{"e":"listenKeyExpired","E":1699596037418,"listenKey":"OfYGbUzi3PraNagEkdKuFwUHn48brFsItTdsuiIXrucEvD0rhRXZ7I6URWfE8YE8"}')
    assert isinstance(expired, ListenKeyExpired) and expired.listen_key.startswith("OfYG")


def test_unknown_events_are_kept_not_dropped():
    event = parse_user_event(b'{"e":"externalLockUpdate","E":1581557507324,"a":"NEO","d":"10.00000000","T":1581557507268}')
    assert isinstance(event, UnknownUserEvent) and event.event_type == "externalLockUpdate"


def test_malformed_known_events_name_the_problem():
    with pytest.raises(BinanceStreamError, match=r"malformed executionReport: .*\$\.i"):
        parse_user_event(EXECUTION_REPORT.replace(b'"i":4293153', b'"i":"x"'))
    with pytest.raises(BinanceStreamError, match="no 'e' field"):
        parse_user_event(b'{"E":1}')
    with pytest.raises(BinanceStreamError, match="not JSON"):
        parse_user_event(b"{")
