# The contract of zq_core.book_ticker: one stream's bookTicker messages decoded into quotes.
#
# ``decode`` reads a message of the exact shape Binance writes and returns the quote made by
# the constructor given at construction; None for anything else (the caller then decodes
# the general way). The last prices and sizes made are kept and handed out again while
# they do not change.

from libc.stdint cimport int64_t

from zq_core.fixed cimport Price, Quantity


cdef class BookTickerDecoder:
    # b'{"stream":"<stream>","data":{"u":' and b',"s":"<symbol>","b":"'
    cdef bytes _prefix
    cdef bytes _symbol_part
    cdef object _instrument_id
    # make(instrument_id, bid_price, ask_price, bid_size, ask_size, ts_event, ts_init)
    cdef object _make_quote
    # on_quote(quote), called by take
    cdef object _on_quote
    cdef int _price_precision
    cdef int _size_precision
    # The last values made.
    cdef Price _bid
    cdef Price _ask
    cdef Quantity _bid_size
    cdef Quantity _ask_size

    cpdef object decode(self, bytes payload, int64_t ts_init)
    # The raws of bid, bid size, ask, ask size of a message of the exact shape; False if not.
    cdef bint _parse(self, const unsigned char* text, Py_ssize_t size, int64_t* raws) noexcept
    # The quote of parsed raws, stamped ts_init.
    cdef object _make(self, const int64_t* raws, int64_t ts_init)
    # The quote handed to on_quote (a QuoteFeed's take in C).
    cdef int _hand_on(self, object quote) except -1


cdef class FrameTaker:
    cdef public object clock_ns
    cdef object _stats       # its ``messages`` counts the messages taken
    cdef object _failed      # failed(message), inside an exception's handling
    cdef Py_ssize_t _max     # the largest message taken
    cdef tuple _decoders     # BookTickerDecoder, each with an on_quote

    cpdef bint take(self, bytes data) except -1
