"""HMAC-SHA256 signing, checked against the example published in Binance's API docs."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

from hypothesis import given
from hypothesis import strategies as st

from zq.adapters.binance.http import _plain_query
from zq.adapters.binance.signing import Signer, encode_params

# Binance spot API docs, "SIGNED Endpoint Examples for POST /api/v3/order": the example
# secret, query string and the signature the docs print for them.
DOC_SECRET = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_QUERY = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
    "&recvWindow=5000&timestamp=1499827319559"
)
DOC_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"


def test_signature_matches_the_binance_documentation_example():
    assert Signer(DOC_SECRET).signature(DOC_QUERY) == DOC_SIGNATURE


def test_encoded_params_of_the_documentation_example_give_its_query():
    params = {
        "symbol": "LTCBTC",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": 1,
        "price": "0.1",
        "stopPrice": None,  # omitted
        "recvWindow": 5000,
        "timestamp": 1499827319559,
    }
    assert encode_params(params) == DOC_QUERY
    assert Signer(DOC_SECRET).sign(encode_params(params)) == f"{DOC_QUERY}&signature={DOC_SIGNATURE}"


def test_signer_is_reusable_and_agrees_with_hmac_module():
    signer = Signer(b"secret")
    for payload in ("", "a=1", "symbols=%5B%22BTCUSDT%22%5D&timestamp=1"):
        expected = hmac.new(b"secret", payload.encode(), hashlib.sha256).hexdigest()
        assert signer.signature(payload) == expected
        assert signer.signature(payload) == expected


def test_booleans_are_written_as_binance_expects():
    assert encode_params({"a": True, "b": False}) == "a=true&b=false"


def test_signer_repr_hides_the_key():
    assert "Nhq" not in repr(Signer(DOC_SECRET))


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=12),
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30)),
        max_size=8,
    )
)
def test_encoded_params_are_what_urlencode_gives(params):
    # The reference: the standard library's encoding of the same pairs, None left out.
    pairs = [
        (name, ("true" if value else "false") if isinstance(value, bool) else str(value))
        for name, value in params.items()
        if value is not None
    ]
    assert encode_params(params) == urlencode(pairs)


def test_order_parameters_are_sent_as_they_are():
    params = {"newClientOrderId": "O-20261123-0001_a.b~c", "price": "60000.01", "quantity": 1}
    assert encode_params(params) == "newClientOrderId=O-20261123-0001_a.b~c&price=60000.01&quantity=1"
    assert encode_params({"symbols": '["BTCUSDT"]'}) == "symbols=%5B%22BTCUSDT%22%5D"


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=12),
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30)),
        max_size=8,
    )
)
def test_a_plain_query_is_the_encoded_params_or_none_where_something_needs_more(params):
    # The signed fast path's query: encode_params' text when every value is a str needing
    # no quoting, else None (the general way then encodes it; also an empty query).
    plain = _plain_query(params)
    texts = [value for value in params.values() if value is not None]
    encoded = encode_params(params)
    if texts and all(isinstance(value, str) for value in texts) and encoded == "&".join(
        f"{name}={value}" for name, value in params.items() if value is not None
    ):
        assert plain == encoded.encode("ascii")
    else:
        assert plain is None


def test_a_plain_query_refuses_separators_and_non_ascii_inside_values():
    assert _plain_query({"a": "1", "b": "x&c=2"}) is None
    assert _plain_query({"a=b": "1"}) is None
    assert _plain_query({"a": "é"}) is None
    assert _plain_query({"a": "1", "b": None, "c": "O-1_a.b~c"}) == b"a=1&c=O-1_a.b~c"


@given(secret=st.binary(max_size=200), payload=st.binary(max_size=600))
def test_signatures_agree_with_the_hmac_module_for_any_key_and_payload(secret, payload):
    # Keys shorter than, equal to and longer than SHA-256's 64-byte block (hashed first).
    expected = hmac.new(secret, payload, hashlib.sha256).hexdigest()
    signer = Signer(secret)
    assert signer.signature_of(payload) == expected.encode("ascii")
    assert signer.signature_of(payload) == expected.encode("ascii")  # the key states kept
    text = payload.decode("latin-1")
    assert signer.signature(text) == hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()
