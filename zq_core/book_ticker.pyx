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
from zq_core.quote_feed cimport QuoteFeed

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
        self._make_quote = make
        self._on_quote = on_quote
        self._price_precision = price_precision
        self._size_precision = size_precision
        self._bid = price_from_raw_c(-1, price_precision)
        self._ask = self._bid
        self._bid_size = quantity_from_raw_c(0, size_precision)
        self._ask_size = self._bid_size

    @property
    def on_quote(self):
        """What :meth:`take` hands each quote to (None: nothing)."""
        return self._on_quote

    cpdef object decode(self, bytes payload, int64_t ts_init):
        """Return the message as a quote, or None when it is not of the exact shape read here.

        ``payload`` is the whole message (``{"stream": ..., "data": {...}}``).
        """
        cdef int64_t raws[4]
        if not self._parse(payload, len(payload), raws):
            return None
        return self._make(raws, ts_init)

    cdef bint _parse(self, const unsigned char* text, Py_ssize_t size, int64_t* raws) noexcept:
        # The message's bid, bid size, ask and ask size raws into raws[0..3]; False (raws
        # undefined) when the message is not of the exact shape read here.
        cdef Py_ssize_t position = _expect(text, 0, size, self._prefix)
        cdef Py_ssize_t start
        if position < 0:
            return False
        start = position
        while position < size and 48 <= text[position] <= 57:  # "u": the update id
            position += 1
        if position == start or position - start > _MAX_DIGITS:
            return False
        position = _expect(text, position, size, self._symbol_part)
        if position < 0:
            return False
        position = _decimal(text, position, size, self._price_precision, &raws[0])
        position = _expect(text, position, size, b'","B":"')
        if position < 0:
            return False
        position = _decimal(text, position, size, self._size_precision, &raws[1])
        position = _expect(text, position, size, b'","a":"')
        if position < 0:
            return False
        position = _decimal(text, position, size, self._price_precision, &raws[2])
        position = _expect(text, position, size, b'","A":"')
        if position < 0:
            return False
        position = _decimal(text, position, size, self._size_precision, &raws[3])
        return _expect(text, position, size, b'"}}') == size

    cdef object _make(self, const int64_t* raws, int64_t ts_init):
        # The quote of parsed raws (bid, bid size, ask, ask size); unchanged values reused.
        if raws[0] != self._bid.raw:
            self._bid = price_from_raw_c(raws[0], self._price_precision)
        if raws[2] != self._ask.raw:
            self._ask = price_from_raw_c(raws[2], self._price_precision)
        if raws[1] != self._bid_size.raw:
            self._bid_size = quantity_from_raw_c(raws[1], self._size_precision)
        if raws[3] != self._ask_size.raw:
            self._ask_size = quantity_from_raw_c(raws[3], self._size_precision)
        return self._make_quote(
            self._instrument_id,
            self._bid,
            self._ask,
            self._bid_size,
            self._ask_size,
            ts_init,
            ts_init,
        )

    cdef int _hand_on(self, object quote) except -1:
        # The quote to on_quote: a QuoteFeed's entry point in C, anything else called.
        if type(self._on_quote) is QuoteFeed:
            return (<QuoteFeed>self._on_quote).take(self._instrument_id, quote)
        self._on_quote(quote)
        return 0

    def take(self, bytes payload, int64_t ts_init):
        """Hand the message's quote to ``on_quote`` and return True; return False, having done
        nothing, when :meth:`decode` returns None (another stream's message, another shape).
        """
        quote = self.decode(payload, ts_init)
        if quote is None:
            return False
        self._hand_on(quote)
        return True

    def __call__(self, bytes payload, int64_t ts_init):
        """The same as :meth:`take` (a decoder is a route's handle)."""
        return self.take(payload, ts_init)


cdef class FrameTaker:
    """Take a read holding one whole text frame of a routed bookTicker stream in one call.

    The WebSocket connection offers each read to :meth:`take` before its frame parser when
    nothing is buffered: a read that is exactly one unfragmented, unmasked text frame (a
    7- or 16-bit length), whose message one of the decoders reads, is stamped with ``clock_ns``,
    counted in ``stats.messages``, decoded and handed to the decoder's ``on_quote`` (in C
    when that is a ``QuoteFeed``). Anything else returns False having done nothing but read
    the clock, and takes the general way (the parser, then the client's routes).

    Parameters
    ----------
    clock_ns : callable
        The clock stamping ``ts_init`` (``clock_ns()`` -> UNIX ns), read before the message
        is decoded, as the general way does.
    stats : object
        Its ``messages`` counts the messages taken.
    failed : callable
        Called as ``failed(message)`` inside the handling of an exception that decoding or
        ``on_quote`` raised (it logs and counts it); the read is taken all the same.
    max_bytes : int
        The largest message taken (the connection's limit).
    """

    def __init__(self, object clock_ns, object stats, object failed, Py_ssize_t max_bytes):
        self.clock_ns = clock_ns
        self._stats = stats
        self._failed = failed
        self._max = max_bytes
        self._decoders = ()

    @property
    def decoders(self):
        """The decoders offered each read, in order."""
        return self._decoders

    @decoders.setter
    def decoders(self, decoders):
        cdef BookTickerDecoder decoder
        decoders = tuple(decoders)
        for decoder in decoders:
            if decoder._on_quote is None:
                raise ValueError("a FrameTaker's decoder needs an on_quote to hand quotes to")
        self._decoders = decoders

    cpdef bint take(self, bytes data) except -1:
        """Take the read (True) or leave it to the general way (False), as described above."""
        cdef const unsigned char* text
        cdef Py_ssize_t size
        cdef Py_ssize_t length
        cdef Py_ssize_t head
        cdef int64_t raws[4]
        cdef int64_t ts_init
        cdef BookTickerDecoder decoder
        if not self._decoders:
            return False
        size = len(data)
        if size <= 4:
            return False
        text = data
        if text[0] != 0x81:  # FIN, TEXT, no reserved bit
            return False
        if text[1] < 126:  # unmasked, a 7-bit length
            head = 2
            length = text[1]
        elif text[1] == 126:  # unmasked, a 16-bit length
            head = 4
            length = (text[2] << 8) | text[3]
        else:
            return False
        if size - head != length or length > self._max:
            return False
        ts_init = self.clock_ns()
        for decoder in self._decoders:
            if decoder._parse(text + head, length, raws):
                break
        else:
            return False
        self._stats.messages += 1
        try:
            decoder._hand_on(decoder._make(raws, ts_init))
        except Exception:
            self._failed(data[head:])
        return True


cdef class FrameReader:
    """A WebSocket connection's protocol while its reads are offered to a taker first (see
    ``WebSocketConnection.offer_reads``): ``data_received`` compiled, so that a read the
    taker takes runs no Python frame of the connection's.

    A read, when the connection's frame parser holds nothing (no partial frame, no
    fragments), is offered to ``take`` (a :class:`FrameTaker`'s, called in C, or any
    ``take(data) -> bool``); taken, it is counted as the connection's ``data_received``
    counts it (``_reads``, for the heartbeat; the parser's ``_offset``, for its errors).
    Anything else is the connection's ``data_received``, as every other event of the
    protocol (connection lost, end of file, pause and resume of writing) is the connection's.
    """

    cdef readonly object connection
    cdef object _take  # take(data) -> bool, when not a FrameTaker's
    cdef FrameTaker _taker  # the FrameTaker whose take is offered the reads
    cdef object _parser  # the connection's FrameParser
    cdef object _general  # the connection's data_received

    def __init__(self, object connection, object take not None):
        owner = getattr(take, "__self__", None)
        if isinstance(owner, FrameTaker) and getattr(take, "__name__", None) == "take":
            self._taker = owner
        elif isinstance(take, FrameTaker):
            self._taker = take
        else:
            self._take = take
        self.connection = connection
        self._parser = connection._parser
        self._general = connection.data_received

    @property
    def take(self):
        """What each read is offered to."""
        return self._take if self._taker is None else self._taker.take

    def data_received(self, bytes data not None):
        cdef bint taken
        parser = self._parser
        if not parser._buffer and not parser._fragments:
            if self._taker is not None:
                taken = self._taker.take(data)
            else:
                taken = self._take(data)
            if taken:
                parser._offset += len(data)
                connection = self.connection
                connection._reads += 1
                return
        self._general(data)

    def connection_made(self, transport):
        self.connection.connection_made(transport)

    def connection_lost(self, exc):
        self.connection.connection_lost(exc)

    def eof_received(self):
        return self.connection.eof_received()

    def pause_writing(self):
        self.connection.pause_writing()

    def resume_writing(self):
        self.connection.resume_writing()
