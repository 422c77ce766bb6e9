"""A Binance new-order request checked, built, signed and written by one compiled call; an
answer's HTTP head read.

Between two quotes of a quiet market the caches are emptied by other work, and what a
request costs is mostly the code and objects it goes through. :class:`OrderRequestWriter`
does what the REST client's Python path does for ``POST /api/v3/order``, over C data:

- the rate limiter's check and count over :class:`RateWindows`, the limiter's windows as C
  arrays (the Python :class:`~zq.adapters.binance.limits.RateLimiter` keeps its state here);
- the query written from the parameters' texts, a price or quantity formatted from its
  fixed-point raw (the text ``str()`` gives it), ``recvWindow`` and ``timestamp``;
- HMAC-SHA256 (RFC 2104) from the key's inner and outer hash states, made once, over this
  module's own SHA-256 (FIPS 180-4; tested against ``hashlib`` and ``hmac``);
- the request's bytes (the prebuilt head and tail around the signed query) made once and
  written on an idle connection of the transport, taken as its ``send_bytes_now`` does (the
  reference), the transport's bookkeeping (``written_on``) after the write; counted by the
  limiter once written. A transport without ``written_on`` is handed the bytes through its
  ``send_bytes_now``.

A request this path does not handle exactly as the Python one (a value that needs URL
encoding, a decimal given as ``Decimal``, an int or an exponent text, a request longer than
its buffer, a transport it has no prebuilt frame for) returns ``NotImplemented`` before
anything is counted or written: the caller then takes the Python path, which is the
reference this one is tested against (the same bytes on the wire at the same instant).

:func:`read_answer_head` reads the status and headers of the answer, as the transport's
Python reader does (the reference it is tested against), in one pass over the bytes; a head
it does not take returns None, and the Python reader reads it.
"""

cimport cython
from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp, memcpy, memset

from zq_core.fixed cimport Price, Quantity

import time as _time

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object text, Py_ssize_t* size) except NULL


# --- SHA-256 (FIPS 180-4) -------------------------------------------------------------------

cdef uint32_t _K[64]
_K[:] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
]

# The initial hash value H(0) (section 5.3.3).
cdef uint32_t _H0[8]
_H0[:] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
    0x5be0cd19,
]

cdef enum:
    _BLOCK = 64  # bytes in a SHA-256 block, and HMAC's key length
    _DIGEST = 32


cdef inline uint32_t _rotr(uint32_t x, int n) noexcept nogil:
    return (x >> n) | (x << (32 - n))


# The x86 SHA extensions (SHA-NI): one block in ~20 instructions of the CPU's own rounds
# instead of ~4,000 of plain C. Compiled for those instructions alone (the target
# attribute), used only when CPUID says the CPU has them (SHA, SSSE3, SSE4.1); elsewhere, or
# with another compiler, _compress_c below. Written here from Intel's description of
# SHA256RNDS2 / SHA256MSG1 / SHA256MSG2 (two rounds; the schedule's sigma0 and sigma1 parts).
cdef extern from *:
    """
    #include <stdint.h>
    #if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    #include <cpuid.h>
    #include <immintrin.h>
    #define ZQ_SHA_NI 1
    static int zq_sha_ni_available(void) {
        unsigned int a, b, c, d;
        if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
        if (!(c & (1u << 9)) || !(c & (1u << 19))) return 0;  /* SSSE3, SSE4.1 */
        if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
        return (b >> 29) & 1;  /* SHA */
    }
    __attribute__((target("sha,sse4.1,ssse3")))
    static void zq_sha256_compress_ni(
        uint32_t* state, const unsigned char* block, const uint32_t* k
    ) {
        /* Each 32-bit word's bytes reversed: the block's words are big-endian. */
        const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
        __m128i w[4], msg, tmp, abef, cdgh, abef0, cdgh0;
        int i;
        /* state A..H into the instructions' halves: ABEF and CDGH (A, C in the top lane). */
        tmp = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i*)state), 0xB1);
        cdgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i*)(state + 4)), 0x1B);
        abef = _mm_alignr_epi8(tmp, cdgh, 8);
        cdgh = _mm_blend_epi16(cdgh, tmp, 0xF0);
        abef0 = abef;
        cdgh0 = cdgh;
        for (i = 0; i < 16; i++) {  /* four rounds each: words 4i..4i+3 */
            if (i < 4) {
                w[i] = _mm_shuffle_epi8(
                    _mm_loadu_si128((const __m128i*)(block + 16 * i)), swap);
            } else {
                /* W[t-16] + s0(W[t-15]), + W[t-7], + s1(W[t-2]); w[(i+k)&3] is w[i-4+k]. */
                tmp = _mm_sha256msg1_epu32(w[i & 3], w[(i + 1) & 3]);
                tmp = _mm_add_epi32(tmp, _mm_alignr_epi8(w[(i + 3) & 3], w[(i + 2) & 3], 4));
                w[i & 3] = _mm_sha256msg2_epu32(tmp, w[(i + 3) & 3]);
            }
            msg = _mm_add_epi32(w[i & 3], _mm_loadu_si128((const __m128i*)(k + 4 * i)));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, msg);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(msg, 0x0E));
        }
        abef = _mm_add_epi32(abef, abef0);
        cdgh = _mm_add_epi32(cdgh, cdgh0);
        tmp = _mm_shuffle_epi32(abef, 0x1B);
        cdgh = _mm_shuffle_epi32(cdgh, 0xB1);
        _mm_storeu_si128((__m128i*)state, _mm_blend_epi16(tmp, cdgh, 0xF0));
        _mm_storeu_si128((__m128i*)(state + 4), _mm_alignr_epi8(cdgh, tmp, 8));
    }
    #else
    #define ZQ_SHA_NI 0
    static int zq_sha_ni_available(void) { return 0; }
    static void zq_sha256_compress_ni(
        uint32_t* state, const unsigned char* block, const uint32_t* k) {}
    #endif
    """
    int zq_sha_ni_available() noexcept nogil
    void zq_sha256_compress_ni(
        uint32_t* state, const unsigned char* block, const uint32_t* k
    ) noexcept nogil

# Whether _compress uses the SHA extensions (see _use_sha_extensions).
cdef bint _sha_ni = zq_sha_ni_available()


def _use_sha_extensions(bint use):
    """Use the CPU's SHA extensions when it has them (the default) or the plain C rounds;
    return whether they are used now (for the tests that check both against hashlib)."""
    global _sha_ni
    _sha_ni = use and zq_sha_ni_available()
    return _sha_ni


cdef inline void _compress(uint32_t* state, const unsigned char* block) noexcept nogil:
    """Hash one 64-byte block into ``state`` (section 6.2.2)."""
    if _sha_ni:
        zq_sha256_compress_ni(state, block, _K)
    else:
        _compress_c(state, block)


cdef void _compress_c(uint32_t* state, const unsigned char* block) noexcept nogil:
    """Hash one 64-byte block into ``state`` (section 6.2.2), in plain C."""
    cdef uint32_t w[64]
    cdef uint32_t a, b, c, d, e, f, g, h, s0, s1, t1, t2
    cdef int t
    for t in range(16):
        w[t] = (
            (<uint32_t>block[4 * t] << 24) | (<uint32_t>block[4 * t + 1] << 16)
            | (<uint32_t>block[4 * t + 2] << 8) | <uint32_t>block[4 * t + 3]
        )
    for t in range(16, 64):
        s0 = _rotr(w[t - 15], 7) ^ _rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
        s1 = _rotr(w[t - 2], 17) ^ _rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
        w[t] = w[t - 16] + s0 + w[t - 7] + s1
    a, b, c, d = state[0], state[1], state[2], state[3]
    e, f, g, h = state[4], state[5], state[6], state[7]
    for t in range(64):
        t1 = h + (_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)) + ((e & f) ^ (~e & g)) + _K[t] + w[t]
        t2 = (_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))
        h = g
        g = f
        f = e
        e = d + t1
        d = c
        c = b
        b = a
        a = t1 + t2
    state[0] += a
    state[1] += b
    state[2] += c
    state[3] += d
    state[4] += e
    state[5] += f
    state[6] += g
    state[7] += h


cdef void _finish(
    uint32_t* state, const unsigned char* data, size_t size, uint64_t before,
    unsigned char* digest
) noexcept nogil:
    """Hash ``data`` into ``state``, which has already taken ``before`` bytes (whole
    blocks), pad the message (section 5.1.1) and write the 32-byte digest."""
    cdef unsigned char tail[2 * _BLOCK]
    cdef size_t whole = size - size % _BLOCK
    cdef size_t offset = 0
    cdef size_t left, padded
    cdef uint64_t bits = (before + size) * 8
    cdef int i
    while offset < whole:
        _compress(state, data + offset)
        offset += _BLOCK
    left = size - whole
    memset(tail, 0, 2 * _BLOCK)
    memcpy(tail, data + whole, left)
    tail[left] = 0x80
    padded = _BLOCK if left < _BLOCK - 8 else 2 * _BLOCK
    for i in range(8):
        tail[padded - 1 - i] = <unsigned char>(bits >> (8 * i))
    _compress(state, tail)
    if padded == 2 * _BLOCK:
        _compress(state, tail + _BLOCK)
    for i in range(8):
        digest[4 * i] = <unsigned char>(state[i] >> 24)
        digest[4 * i + 1] = <unsigned char>(state[i] >> 16)
        digest[4 * i + 2] = <unsigned char>(state[i] >> 8)
        digest[4 * i + 3] = <unsigned char>state[i]


def sha256(bytes data not None):
    """Return the SHA-256 digest of ``data`` (32 bytes): what the HMAC is built on, exposed
    for the tests that check it against ``hashlib``."""
    cdef uint32_t state[8]
    cdef unsigned char digest[_DIGEST]
    memcpy(state, _H0, sizeof(state))
    _finish(state, <const unsigned char*>data, len(data), 0, digest)
    return PyBytes_FromStringAndSize(<char*>digest, _DIGEST)


cdef const char* _HEX = b"0123456789abcdef"


# --- the query's texts ------------------------------------------------------------------------

# The bytes ``quote_plus`` leaves as they are (signing.py's _UNRESERVED): 1, else 0.
cdef uint8_t _UNRESERVED[256]
memset(_UNRESERVED, 0, 256)
for _char in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~":
    _UNRESERVED[ord(_char)] = 1

cdef enum:
    # The longest request written here; a longer one takes the Python path.
    _REQUEST_MAX = 2048
    # Room kept for a price's or quantity's text, "&recvWindow=", "&timestamp=" and
    # "&signature=" with their numbers: far more than any of them takes.
    _NUMBER_ROOM = 48


cdef Py_ssize_t _put(char* out, Py_ssize_t at, const char* text, Py_ssize_t size) noexcept:
    memcpy(out + at, text, size)
    return at + size


cdef Py_ssize_t _put_text(
    char* out, Py_ssize_t at, Py_ssize_t end, const char* name, Py_ssize_t name_size,
    object value, bint decimal
) except -2:
    """Write ``&name=value`` (no ``&`` at the start of the query) for a str ``value``;
    return the new position, or -1 when the value is not a str, needs encoding, does not
    fit, or is a decimal with an exponent (the Python path rewrites that one)."""
    cdef Py_ssize_t size, i
    cdef const char* text
    cdef uint8_t byte
    if type(value) is not str:
        return -1
    text = PyUnicode_AsUTF8AndSize(value, &size)
    if at + 1 + name_size + 1 + size > end:
        return -1
    for i in range(size):
        byte = <uint8_t>text[i]
        if not _UNRESERVED[byte] or (decimal and (byte == 101 or byte == 69)):  # e, E
            return -1
    if at:
        out[at] = b"&"
        at += 1
    at = _put(out, at, name, name_size)
    out[at] = b"="
    return _put(out, at + 1, text, size)


cdef Py_ssize_t _put_digits(char* out, Py_ssize_t at, uint64_t magnitude, int decimals) noexcept:
    """Write ``magnitude`` with ``decimals`` of its digits after a point (as
    ``zq_core.fixed``'s ``str()`` of a raw); return the new position."""
    cdef char digits[32]
    cdef int position = 32
    cdef int _
    for _ in range(decimals):
        position -= 1
        digits[position] = <char>(48 + magnitude % 10)
        magnitude //= 10
    if decimals:
        position -= 1
        digits[position] = b"."
    while True:
        position -= 1
        digits[position] = <char>(48 + magnitude % 10)
        magnitude //= 10
        if magnitude == 0:
            break
    return _put(out, at, digits + position, 32 - position)


cdef Py_ssize_t _put_int(char* out, Py_ssize_t at, int64_t value) noexcept:
    if value < 0:
        out[at] = b"-"
        return _put_digits(out, at + 1, <uint64_t>0 - <uint64_t>value, 0)
    return _put_digits(out, at, <uint64_t>value, 0)


cdef Py_ssize_t _put_decimal(
    char* out, Py_ssize_t at, Py_ssize_t end, const char* name, Py_ssize_t name_size,
    object value
) except -2:
    """Write ``&name=value`` for a Price, a Quantity (from the raw) or a str decimal; -1 for
    anything else, which the Python path formats."""
    cdef int64_t raw
    cdef uint8_t precision
    if type(value) is Price:
        raw, precision = (<Price>value).raw, (<Price>value).precision
    elif type(value) is Quantity:
        raw, precision = (<Quantity>value).raw, (<Quantity>value).precision
    else:
        return _put_text(out, at, end, name, name_size, value, True)
    if at + 2 + name_size + _NUMBER_ROOM > end:
        return -1
    if at:
        out[at] = b"&"
        at += 1
    at = _put(out, at, name, name_size)
    out[at] = b"="
    at += 1
    if raw < 0:
        out[at] = b"-"
        return _put_digits(out, at + 1, <uint64_t>0 - <uint64_t>raw, precision)
    return _put_digits(out, at, <uint64_t>raw, precision)


# --- the rate limiter's windows ---------------------------------------------------------------

@cython.final
@cython.auto_pickle(False)
cdef class RateWindows:
    """The rate limiter's windows in C arrays: for each, which cost it counts (0: the
    request's weight, 1: one per request, 2: its orders), its interval and limit, the start
    of its current interval (-1 before the first) and the units used in it; with the hold
    after a 429/418 and the count of requests admitted.

    :class:`~zq.adapters.binance.limits.RateLimiter` is the API; this is its state, shared
    with :class:`OrderRequestWriter` without a Python call.
    """

    cdef Py_ssize_t size
    cdef int64_t* cost_index
    cdef int64_t* interval_ms
    cdef int64_t* most
    cdef int64_t* start_ms
    cdef int64_t* used
    cdef public int64_t blocked_until_ms
    cdef public int64_t acquired

    def __cinit__(self, Py_ssize_t size):
        if size < 0:
            raise ValueError(f"a number of windows cannot be negative, got {size}")
        # One block of five arrays; at least one element so malloc never gets 0.
        self.cost_index = <int64_t*>malloc(5 * (size + 1) * sizeof(int64_t))
        if self.cost_index is NULL:
            raise MemoryError()
        self.size = size
        self.interval_ms = self.cost_index + (size + 1)
        self.most = self.interval_ms + (size + 1)
        self.start_ms = self.most + (size + 1)
        self.used = self.start_ms + (size + 1)
        cdef Py_ssize_t i
        for i in range(size):
            self.cost_index[i] = 0
            self.interval_ms[i] = 1
            self.most[i] = 0
            self.start_ms[i] = -1
            self.used[i] = 0

    def __dealloc__(self):
        free(self.cost_index)

    def __len__(self):
        return self.size

    cdef int _check(self, Py_ssize_t index) except -1:
        if not 0 <= index < self.size:
            raise IndexError(f"window {index} of {self.size}")
        return 0

    def set(
        self, Py_ssize_t index, int64_t cost_index, int64_t interval_ms, int64_t most,
        int64_t start_ms=-1, int64_t used=0
    ):
        """Set window ``index``: what it counts, its interval and limit, and its count."""
        self._check(index)
        if not 0 <= cost_index <= 2:
            raise ValueError(f"cost_index must be 0, 1 or 2, got {cost_index}")
        if interval_ms <= 0 or most <= 0:
            raise ValueError(
                f"a window needs a positive interval and limit, got {interval_ms}, {most}"
            )
        self.cost_index[index] = cost_index
        self.interval_ms[index] = interval_ms
        self.most[index] = most
        self.start_ms[index] = start_ms
        self.used[index] = used

    def roll(self, Py_ssize_t index, int64_t now_ms):
        """Start window ``index``'s current interval at ``now_ms`` (count 0) if it changed."""
        self._check(index)
        cdef int64_t start = now_ms - now_ms % self.interval_ms[index]
        if start != self.start_ms[index]:
            self.start_ms[index] = start
            self.used[index] = 0

    def start_of(self, Py_ssize_t index):
        """The start of window ``index``'s current interval (-1 before the first)."""
        self._check(index)
        return self.start_ms[index]

    def used_of(self, Py_ssize_t index):
        """The units window ``index`` counted in its current interval."""
        self._check(index)
        return self.used[index]

    def set_used(self, Py_ssize_t index, int64_t used):
        """Set window ``index``'s count (a venue's header reporting more)."""
        self._check(index)
        self.used[index] = used

    cpdef int64_t wait_ms(self, int64_t now_ms, int64_t weight, int64_t orders) except? -1:
        """Return how long (ms) a request of this cost waits at ``now_ms``: for the hold,
        and for the next interval of each window it would overflow; 0: it may go. Rolls
        the windows whose interval ended."""
        cdef int64_t wait = self.blocked_until_ms - now_ms
        cdef int64_t costs[3]
        cdef int64_t interval, start, cost
        cdef Py_ssize_t i
        if wait < 0:
            wait = 0
        costs[0], costs[1], costs[2] = weight, 1, orders
        for i in range(self.size):
            interval = self.interval_ms[i]
            start = now_ms - now_ms % interval  # floor: Python's % (cdivision off)
            if start != self.start_ms[i]:
                self.start_ms[i] = start
                self.used[i] = 0
            cost = costs[self.cost_index[i]]
            if cost and self.used[i] + cost > self.most[i] and start + interval - now_ms > wait:
                wait = start + interval - now_ms
        return wait

    cpdef void count(self, int64_t weight, int64_t orders) noexcept:
        """Count a request :meth:`wait_ms` has just admitted (nothing ran since)."""
        cdef int64_t costs[3]
        cdef Py_ssize_t i
        costs[0], costs[1], costs[2] = weight, 1, orders
        for i in range(self.size):
            self.used[i] += costs[self.cost_index[i]]
        self.acquired += 1


# --- the writer -------------------------------------------------------------------------------

@cython.final
@cython.auto_pickle(False)
cdef class OrderRequestWriter:
    """Write signed new-order requests for one API secret (see the module's documentation).

    The secret itself is not kept, only the HMAC's inner and outer hash states (as the
    Python ``Signer`` keeps); nothing of them is readable from Python, and the object does
    not pickle.
    """

    cdef uint32_t inner[8]
    cdef uint32_t outer[8]
    # The last payload's first block and the inner state after it (see _sign).
    cdef unsigned char first_block[64]
    cdef uint32_t first_state[8]
    cdef bint has_first
    cdef readonly object transport  # the transport ``head`` and ``tail`` were made for
    cdef bint direct  # the transport has written_on: the connection taken and written here
    cdef bytes head  # b"POST /api/v3/order?"
    cdef bytes tail  # the protocol, the headers and the blank line
    # A new order's request weight (send_new_order's; set by the REST client).
    cdef public int64_t new_order_weight

    def __init__(self, bytes secret not None):
        cdef unsigned char key[_BLOCK]
        cdef unsigned char pad[_BLOCK]
        cdef uint32_t state[8]
        cdef int i
        memset(key, 0, _BLOCK)
        if len(secret) > _BLOCK:  # RFC 2104: a longer key is hashed first
            memcpy(state, _H0, sizeof(state))
            _finish(state, <const unsigned char*>secret, len(secret), 0, key)
        else:
            memcpy(key, <const char*>secret, len(secret))
        for i in range(_BLOCK):
            pad[i] = key[i] ^ 0x36
        memcpy(self.inner, _H0, sizeof(self.inner))
        _compress(self.inner, pad)
        for i in range(_BLOCK):
            pad[i] = key[i] ^ 0x5C
        memcpy(self.outer, _H0, sizeof(self.outer))
        _compress(self.outer, pad)
        memset(key, 0, _BLOCK)
        memset(pad, 0, _BLOCK)
        self.has_first = False
        self.transport = None
        self.new_order_weight = 1

    def __repr__(self):
        return "OrderRequestWriter(<hidden>)"

    cdef void _sign(self, const char* payload, Py_ssize_t size, char* hex_out) noexcept:
        """Write the lower-case hex HMAC-SHA256 of ``payload`` (64 characters).

        The inner hash's state after the payload's first block is kept with that block:
        one order's query starts as the last one's did (symbol, side, type, time in force,
        the quantity's first digits) and the block is then not hashed again.
        """
        cdef uint32_t state[8]
        cdef unsigned char digest[_DIGEST]
        cdef int i
        if size >= _BLOCK:
            if not self.has_first or memcmp(self.first_block, payload, _BLOCK) != 0:
                memcpy(self.first_state, self.inner, sizeof(self.first_state))
                _compress(self.first_state, <const unsigned char*>payload)
                memcpy(self.first_block, payload, _BLOCK)
                self.has_first = True
            memcpy(state, self.first_state, sizeof(state))
            _finish(
                state, <const unsigned char*>payload + _BLOCK, size - _BLOCK, 2 * _BLOCK,
                digest,
            )
        else:
            memcpy(state, self.inner, sizeof(state))
            _finish(state, <const unsigned char*>payload, size, _BLOCK, digest)
        memcpy(state, self.outer, sizeof(state))
        _finish(state, digest, _DIGEST, _BLOCK, digest)
        for i in range(_DIGEST):
            hex_out[2 * i] = _HEX[digest[i] >> 4]
            hex_out[2 * i + 1] = _HEX[digest[i] & 15]

    def signature_of(self, bytes payload not None):
        """Return the lower-case hex HMAC-SHA256 of ``payload``, as ASCII bytes."""
        cdef char hex_text[2 * _DIGEST]
        self._sign(payload, len(payload), hex_text)
        return PyBytes_FromStringAndSize(hex_text, 2 * _DIGEST)

    def set_frame(self, transport, bytes head not None, bytes tail not None):
        """Take the request's head (``b"POST /api/v3/order?"``) and tail (protocol,
        headers, blank line) made for ``transport``."""
        self.transport = transport
        self.direct = hasattr(transport, "written_on")
        self.head = head
        self.tail = tail

    def write_new_order(
        self,
        RateWindows windows not None,
        object limiter_now,
        int64_t time_offset_ms,
        int64_t recv_window_ms,
        object transport,
        object symbol,
        object side,
        object order_type,
        object quantity,
        object price,
        object time_in_force,
        object client_order_id,
        object stop_price,
        object quote_order_qty,
        object response_type,
        int64_t weight,
        int64_t orders,
    ):
        """Check the limiter, write the signed new-order request on ``transport`` and
        count it.

        ``limiter_now``: the limiter's clock read now, or None when it is the venue clock
        the timestamp is read on (``time.time_ns() // 1_000_000 + time_offset_ms``).
        Returns ``(signed query, exchange)`` once written; None when the limiter holds the
        request or the transport wrote nothing (nothing counted); ``NotImplemented`` when
        the Python path must make it (see the module's documentation).
        """
        return self._write(
            windows, limiter_now, time_offset_ms, recv_window_ms, transport, symbol, side,
            order_type, quantity, price, time_in_force, client_order_id, stop_price,
            quote_order_qty, response_type, weight, orders,
        )

    def send_new_order(
        self,
        object http,
        object symbol,
        object side,
        object order_type,
        object quantity,
        object price,
        object time_in_force,
        object client_order_id,
        object stop_price,
        object response_type,
    ):
        """``http.send_new_order(symbol, side, order_type, quantity=..., price=...,
        time_in_force=..., client_order_id=..., stop_price=..., response_type=...)`` with
        no Python frame before the write when this writer can write it: ``http`` (the
        :class:`~zq.adapters.binance.http.BinanceHttpClient` that owns this writer) gives
        its transport, limiter, clock offset and receive window, and makes the
        ``SentRequest`` after the write (``http._sent_new_order``). Anything else (no
        transport, one without this writer's frame, a request for the Python path) is
        ``http.send_new_order``'s, the reference.
        """
        transport = http._transport
        if transport is not None and transport is self.transport:
            limiter = http.limiter
            written = self._write(
                limiter.windows,
                None if http._limiter_on_own_clock else limiter.time_ms(),
                http.time_offset_ms,
                http.recv_window_ms,
                transport,
                symbol, side, order_type, quantity, price, time_in_force, client_order_id,
                stop_price, None, response_type,
                self.new_order_weight,
                1,
            )
            if written is None:
                return None
            if written is not NotImplemented:
                return http._sent_new_order(
                    written, symbol, side, order_type, quantity, price, time_in_force,
                    client_order_id, stop_price, response_type,
                )
        return http.send_new_order(
            symbol, side, order_type, quantity=quantity, price=price,
            time_in_force=time_in_force, client_order_id=client_order_id,
            stop_price=stop_price, response_type=response_type,
        )

    cdef object _write(
        self,
        RateWindows windows,
        object limiter_now,
        int64_t time_offset_ms,
        int64_t recv_window_ms,
        object transport,
        object symbol,
        object side,
        object order_type,
        object quantity,
        object price,
        object time_in_force,
        object client_order_id,
        object stop_price,
        object quote_order_qty,
        object response_type,
        int64_t weight,
        int64_t orders,
    ):
        cdef char request[_REQUEST_MAX]
        cdef Py_ssize_t head_size, tail_size, at, end, query_start, signed_size
        cdef int64_t now_ms, timestamp
        cdef const char* head
        if transport is not self.transport or self.head is None:
            return NotImplemented
        head_size = len(self.head)
        tail_size = len(self.tail)
        # The query is written from offset 0 of its own part of the buffer: 'at == 0' is
        # how _put_text knows there is no "&" before the first parameter.
        query_start = head_size
        end = _REQUEST_MAX - query_start - tail_size - 3 * _NUMBER_ROOM - 2 * _DIGEST
        if end <= 0:
            return NotImplemented
        cdef char* query = request + query_start
        at = 0
        if symbol is not None:
            at = _put_text(query, at, end, b"symbol", 6, symbol, False)
            if at < 0:
                return NotImplemented
        if side is not None:
            at = _put_text(query, at, end, b"side", 4, side, False)
            if at < 0:
                return NotImplemented
        if order_type is not None:
            at = _put_text(query, at, end, b"type", 4, order_type, False)
            if at < 0:
                return NotImplemented
        if time_in_force is not None:
            at = _put_text(query, at, end, b"timeInForce", 11, time_in_force, False)
            if at < 0:
                return NotImplemented
        if quantity is not None:
            at = _put_decimal(query, at, end, b"quantity", 8, quantity)
            if at < 0:
                return NotImplemented
        if quote_order_qty is not None:
            at = _put_decimal(query, at, end, b"quoteOrderQty", 13, quote_order_qty)
            if at < 0:
                return NotImplemented
        if price is not None:
            at = _put_decimal(query, at, end, b"price", 5, price)
            if at < 0:
                return NotImplemented
        if client_order_id is not None:
            at = _put_text(query, at, end, b"newClientOrderId", 16, client_order_id, False)
            if at < 0:
                return NotImplemented
        if stop_price is not None:
            at = _put_decimal(query, at, end, b"stopPrice", 9, stop_price)
            if at < 0:
                return NotImplemented
        if response_type is not None:
            at = _put_text(query, at, end, b"newOrderRespType", 16, response_type, False)
            if at < 0:
                return NotImplemented
        if at == 0:  # no parameter: the Python path's (a query starting with "&")
            return NotImplemented

        cdef int64_t wall_ns = _time.time_ns()  # looked up per call: a test may freeze it
        timestamp = wall_ns // 1_000_000 + time_offset_ms
        now_ms = timestamp if limiter_now is None else <int64_t>limiter_now
        if windows.wait_ms(now_ms, weight, orders) > 0:
            return None

        at = _put(query, at, b"&recvWindow=", 12)
        at = _put_int(query, at, recv_window_ms)
        at = _put(query, at, b"&timestamp=", 11)
        at = _put_int(query, at, timestamp)
        # HMAC over the query so far, then "&signature=" and its hex appended.
        signed_size = at + 11 + 2 * _DIGEST
        self._sign(query, at, query + at + 11)
        memcpy(query + at, b"&signature=", 11)
        head = self.head
        memcpy(request, head, head_size)
        memcpy(query + signed_size, <const char*>self.tail, tail_size)

        request_bytes = PyBytes_FromStringAndSize(request, query_start + signed_size + tail_size)
        if self.direct:
            exchange = _write_on_idle(transport, request_bytes)
        else:
            exchange = transport.send_bytes_now(request_bytes)
        if exchange is None:  # closed, or no idle connection: nothing written
            return None
        windows.count(weight, orders)  # it fitted: wait_ms said so, nothing ran since
        return PyBytes_FromStringAndSize(query, signed_size), exchange


cdef object _monotonic = _time.monotonic  # the clock of a connection's idle_since


cdef object _write_on_idle(object transport, bytes request):
    # HttpTransport.send_bytes_now (zq.adapters.binance.transport), its reference: an idle
    # connection taken (one closed, closing or idle too long is closed and the next one
    # tried) and the request written on it, without the Python frames before the write; the
    # transport's bookkeeping (written_on) follows it. None: nothing written.
    if transport._closed or transport._free <= 0 or transport._waiters:
        return None
    cdef list idle = transport._idle
    cdef object connection, socket_transport
    while idle:
        connection = idle.pop()
        socket_transport = connection.transport
        if (
            not connection.closed
            and socket_transport is not None
            and not socket_transport.is_closing()
            and _monotonic() - connection.idle_since < transport.idle_timeout_s
        ):
            try:
                socket_transport.write(request)
            except Exception as error:  # the exchange's answer fails with it
                return transport.written_on(connection, error)
            return transport.written_on(connection, None)
        connection.close()
    return None


# --- an answer's head -------------------------------------------------------------------------

cdef extern from "Python.h":
    object PyUnicode_DecodeASCII(const char* text, Py_ssize_t size, const char* errors)


cdef inline bint _plain(unsigned char c) noexcept:
    # A byte the compiled head reader takes as it is: printable ASCII or a tab. Anything else
    # (another control byte, a byte past ASCII) leaves the head to the Python reader, whose
    # str methods define what such bytes mean.
    return (0x20 <= c < 0x7f) or c == 0x09


def read_answer_head(bytearray buffer not None, Py_ssize_t end):
    """Return ``(status, headers)`` of the HTTP/1.x answer head ``buffer[:end]`` (no blank
    line), as the transport's Python reader (``_parse_head``) does, or None for a head it
    leaves to that reader: anything but printable ASCII and tabs, a malformed line (which the
    Python reader names in its error), a status of more than 9 digits.

    Header names in lower case, values without the spaces and tabs around them; a repeated
    header keeps its last value.
    """
    if end < 0 or end > len(buffer):
        return None
    cdef const unsigned char* text = <const unsigned char*>(<char*>buffer)
    cdef Py_ssize_t at = 0, start, colon, first, last, index
    cdef unsigned char c
    cdef long status = 0
    cdef int digits = 0
    cdef char name[256]
    # The status line: "HTTP/1." and the rest of the version, a space, the status' digits,
    # then a space (the reason) or the line's end.
    if end < 7 or memcmp(text, b"HTTP/1.", 7) != 0:
        return None
    at = 7
    while at < end and text[at] != 0x20:
        if text[at] == 0x0d or not _plain(text[at]):
            return None
        at += 1
    at += 1
    while at < end and 0x30 <= text[at] <= 0x39:
        status = status * 10 + (text[at] - 0x30)
        digits += 1
        at += 1
    if digits == 0 or digits > 9:
        return None
    if at < end and text[at] != 0x20 and text[at] != 0x0d:
        return None
    while at < end and text[at] != 0x0d:
        if not _plain(text[at]):
            return None
        at += 1
    headers = {}
    while at < end:
        # At a line's "\r\n".
        if at + 1 >= end or text[at + 1] != 0x0a:
            return None
        start = at = at + 2
        colon = -1
        while at < end and text[at] != 0x0d:
            c = text[at]
            if not _plain(c):
                return None
            if c == 0x3a and colon < 0:
                colon = at
            at += 1
        if colon <= start or colon - start > 255:
            return None  # no name, no colon, or a name longer than kept here
        if text[start] == 0x20 or text[start] == 0x09:
            return None
        if text[colon - 1] == 0x20 or text[colon - 1] == 0x09:
            return None
        for index in range(colon - start):
            c = text[start + index]
            name[index] = <char>(c + 32 if 0x41 <= c <= 0x5a else c)
        first, last = colon + 1, at
        while first < last and (text[first] == 0x20 or text[first] == 0x09):
            first += 1
        while last > first and (text[last - 1] == 0x20 or text[last - 1] == 0x09):
            last -= 1
        headers[PyUnicode_DecodeASCII(name, colon - start, NULL)] = PyUnicode_DecodeASCII(
            <const char*>text + first, last - first, NULL
        )
    return status, headers
