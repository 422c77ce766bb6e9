"""The venue's quick parameter parsing and decimal formatting agree with the standard
library's (the references), on generated inputs; a signed request with encoded parameters is
checked on the text as sent."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qsl, quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zq.sandbox.accounts import format_decimal
from zq.sandbox.rest import parse_params as _parse_params

from .conftest import SYMBOL, Client, seed_book

_QUERY_CHARS = st.sampled_from([*"ab=&%+;-_.~ 09", "%20", "%2", "%zz", "%C3%A9", "é"])


@given(st.lists(_QUERY_CHARS, max_size=40).map("".join))
def test_params_parse_as_parse_qsl_does(text):
    assert _parse_params(text) == parse_qsl(text, keep_blank_values=True)


@given(
    st.lists(
        st.tuples(st.text(max_size=8), st.text(max_size=12)), max_size=6
    ).map(lambda pairs: "&".join(f"{quote_plus(n)}={quote_plus(v)}" for n, v in pairs))
)
def test_encoded_params_parse_as_parse_qsl_does(text):
    assert _parse_params(text) == parse_qsl(text, keep_blank_values=True)


@given(
    st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12)
)
def test_formatted_decimals_are_eight_place_quantized_text(value):
    # Asked twice: the second answer comes from the memo and must be the same.
    expected = f"{value.quantize(Decimal('0.00000001')):f}"
    assert format_decimal(value) == expected
    assert format_decimal(value) == expected


def test_a_formatted_decimal_does_not_depend_on_what_was_formatted_before():
    # The memo is keyed by the decimal's text: equal decimals that format differently (the
    # zeros' signs) each get their own, in either order.
    for first, second in ((Decimal("0"), Decimal("-0")), (Decimal("-0E-3"), Decimal("0E-3"))):
        assert format_decimal(first) == f"{first.quantize(Decimal('0.00000001')):f}"
        assert format_decimal(second) == f"{second.quantize(Decimal('0.00000001')):f}"
    assert format_decimal(Decimal("-0")) == "-0.00000000"
    assert format_decimal(Decimal("0")) == "0.00000000"


def test_equal_decimals_of_different_exponents_format_alike():
    assert format_decimal(Decimal("1.5")) == "1.50000000"
    assert format_decimal(Decimal("1.50")) == "1.50000000"
    assert format_decimal(Decimal("0E-8")) == format_decimal(Decimal(0)) == "0.00000000"


@pytest.mark.asyncio
async def test_a_signed_request_with_encoded_parameters_is_accepted(venue, client: Client):
    seed_book(venue)
    # newClientOrderId "zq:a/b" travels as "zq%3Aa%2Fb"; the signature covers the text as
    # sent, the order gets the decoded id. In the query string and in the body alike.
    for in_body, coid in ((False, "zq:a/b"), (True, "zq:c/d")):
        params = {
            "symbol": SYMBOL,
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "0.001",
            "price": "50000",
            "newClientOrderId": coid,
        }
        reply = await client.request("POST", "/api/v3/order", params, signed=True, in_body=in_body)
        assert reply.status == 200, reply
        assert reply.body["clientOrderId"] == coid
