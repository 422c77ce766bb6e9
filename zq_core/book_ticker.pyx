"""A combined stream's bookTicker message decoded into a quote in one compiled pass.

:class:`BookTickerDecoder` reads the bytes of one message of one stream, exactly as Binance
writes it (``{"stream":"btcusdt@bookTicker","data":{"u":400900217,"s":"BTCUSDT",
"b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}}``: these keys in
this order, no white space), parses the four decimals straight into fixed-point raws at the
instrument's precisions and makes the quote object with the constructor it was given (zq's
``QuoteTick``: zq_core never imports zq). It is a fast path, not a parser of JSON: for any
message of another shape (white space, other keys or order, escapes, a decimal finer than
the precision, a number over 18 significant digits) it returns None and the caller decodes
the message the general way, which accepts it or names what is wrong. What it accepts, it
reads exactly as the general way does (``tests/unit/adapters/binance/test_book_ticker.py``
checks both on generated messages).

The last prices and sizes made are kept: a quiet market repeats them message after message,
and an unchanged value is handed out again instead of being made anew.
"""

from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memcmp

from zq_core.fixed cimport PRECISION_MAX_C, price_from_raw_c, quantity_from_raw_c

cdef enum:
    # At most this many significant digits in a value: 10**18 - 1 fits in int64. A longer
    # one (a valid value near int64's top, or one that does not fit) takes the general way.
    _MAX_DIGITS = 18

cdef int64_t _POW10[_MAX_DIGITS + 1]
_POW10[0] = 1
for _power in range(1, _MAX_DIGITS + 1):
    _POW10[_power] = _POW10[_power - 1] * 10


cdef Py_ssize_t _decimal(
    const unsigned char* text, Py_ssize_t position, Py_ssize_t size, int precision,
    int64_t* out
) noexcept:
    """Parse ``[0-9]+(\\.[0-9]+)?`` from ``position`` up to a closing quote, at ``precision``.

    Returns the position of the closing quote, or -1 when the text is not such a decimal,
    has a non-zero digit beyond ``precision``, or has over _MAX_DIGITS significant digits.
    Reads nothing at or past ``size``.
    """
    cdef uint64_t raw = 0
    cdef int digits = 0  # significant digits taken into raw
    cdef int decimals = 0  # fraction digits taken into raw
    cdef Py_ssize_t start = position
    cdef unsigned char c
    while position < size:
        c = text[position]
        if c < 48 or c > 57:
            break
        if raw or c != 48:
            digits += 1
            if digits > _MAX_DIGITS:
                return -1
        raw = raw * 10 + (c - 48)
        position += 1
    if position == start or position >= size:
        return -1
    if text[position] == 46:  # '.'
        position += 1
        start = position
        while position < size:
            c = text[position]
            if c < 48 or c > 57:
                break
            if decimals < precision:
                if raw or c != 48:
                    digits += 1
                    if digits > _MAX_DIGITS:
                        return -1
                raw = raw * 10 + (c - 48)
                decimals += 1
            elif c != 48:
                return -1  # a significant digit beyond the precision
            position += 1
        if position == start or position >= size:
            return -1
    if text[position] != 34:  # '"'
        return -1
    if digits + precision - decimals > _MAX_DIGITS:
        return -1
    out[0] = <int64_t>raw * _POW10[precision - decimals]
    return position


cdef Py_ssize_t _expect(
    const unsigned char* text, Py_ssize_t position, Py_ssize_t size, bytes literal
) noexcept:
    """Return the position after ``literal`` if the text has it at ``position``, else -1."""
    cdef Py_ssize_t length = len(literal)
    if position < 0 or size - position < length:
        return -1
    if memcmp(text + position, <const char*>literal, length) != 0:
        return -1
    return position + length


cdef class BookTickerDecoder:
    """Decode one stream's bookTicker messages into quotes (see the module's documentation).

    Parameters
    ----------
    stream : str
        The stream's name (``btcusdt@bookTicker``).
    symbol : str
        The symbol the messages carry (``BTCUSDT``); a message naming another one takes the
        general way.
    instrument_id : object
        The quotes' instrument id.
    price_precision, size_precision : int
        The precisions of the quotes' prices and sizes (0..9).
    make : callable
        Called as ``make(instrument_id, bid_price, ask_price, bid_size, ask_size, ts_event,
        ts_init)``; ``ts_event`` is ``ts_init`` (spot bookTicker messages carry no time).
    on_quote : callable, optional
        What :meth:`take` hands each quote to.
    """

    def __init__(
        self,
        str stream,
        str symbol,
        object instrument_id,
        int price_precision,
        int size_precision,
        object make,
        object on_quote=None,
    ):
        cdef int most = PRECISION_MAX_C
        if not (0 <= price_precision <= most and 0 <= size_precision <= most):
            raise ValueError(
                f"precisions must be in 0..{PRECISION_MAX_C}, got {price_precision} and "
                f"{size_precision}"
            )
        self._prefix = b'{"stream":"' + stream.encode("utf-8") + b'","data":{"u":'
        self._symbol_part = b',"s":"' + symbol.encode("utf-8") + b'","b":"'
        self._instrument_id = instrument_id
        self._make = make
        self._on_quote = on_quote
        self._price_precision = price_precision
        self._size_precision = size_precision
        self._bid = price_from_raw_c(-1, price_precision)
        self._ask = self._bid
        self._bid_size = quantity_from_raw_c(0, size_precision)
        self._ask_size = self._bid_size

    cpdef object decode(self, bytes payload, int64_t ts_init):
        """Return the message as a quote, or None when it is not of the exact shape read here.

        ``payload`` is the whole message (``{"stream": ..., "data": {...}}``).
        """
        cdef const unsigned char* text = payload
        cdef Py_ssize_t size = len(payload)
        cdef Py_ssize_t position = _expect(text, 0, size, self._prefix)
        cdef Py_ssize_t start
        cdef int64_t bid, bid_size, ask, ask_size
        if position < 0:
            return None
        start = position
        while position < size and 48 <= text[position] <= 57:  # "u": the update id
            position += 1
        if position == start or position - start > _MAX_DIGITS:
            return None
        position = _expect(text, position, size, self._symbol_part)
        if position < 0:
            return None
        position = _decimal(text, position, size, self._price_precision, &bid)
        position = _expect(text, position, size, b'","B":"')
        if position < 0:
            return None
        position = _decimal(text, position, size, self._size_precision, &bid_size)
        position = _expect(text, position, size, b'","a":"')
        if position < 0:
            return None
        position = _decimal(text, position, size, self._price_precision, &ask)
        position = _expect(text, position, size, b'","A":"')
        if position < 0:
            return None
        position = _decimal(text, position, size, self._size_precision, &ask_size)
        if _expect(text, position, size, b'"}}') != size:
            return None
        if bid != self._bid.raw:
            self._bid = price_from_raw_c(bid, self._price_precision)
        if ask != self._ask.raw:
            self._ask = price_from_raw_c(ask, self._price_precision)
        if bid_size != self._bid_size.raw:
            self._bid_size = quantity_from_raw_c(bid_size, self._size_precision)
        if ask_size != self._ask_size.raw:
            self._ask_size = quantity_from_raw_c(ask_size, self._size_precision)
        return self._make(
            self._instrument_id,
            self._bid,
            self._ask,
            self._bid_size,
            self._ask_size,
            ts_init,
            ts_init,
        )

    def take(self, bytes payload, int64_t ts_init):
        """Hand the message's quote to ``on_quote`` and return True; return False, having done
        nothing, when :meth:`decode` returns None (another stream's message, another shape).
        """
        quote = self.decode(payload, ts_init)
        if quote is None:
            return False
        self._on_quote(quote)
        return True
