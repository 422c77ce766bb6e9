"""Fixed-point ``Price``, ``Quantity`` and ``Money``.

A value is an ``int64`` ``raw`` with a ``precision`` (decimal places, 0..9):
``value = raw / 10**precision``. Arithmetic is exact integer arithmetic, so prices and sizes
never pick up binary floating-point error; anything that would leave ``int64`` raises
``OverflowError`` instead of wrapping. Floats are accepted only at the edges (construction,
``as_double``) and never used inside.

Equality and hashing follow Python's numeric tower: ``Price("1.10") == Price("1.1") ==
Decimal("1.1")`` and the three hash alike, so values of different precisions can share dict
keys and sets.
"""

cimport cython
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from cpython.object cimport Py_EQ, Py_GT, Py_LE, Py_LT, Py_NE, PyObject_RichCompare
from libc.math cimport fabs, rint
from libc.stdint cimport INT64_MAX, INT64_MIN, int64_t, uint8_t, uint64_t

import math
import sys
from decimal import (
    MAX_EMAX,
    MIN_EMIN,
    ROUND_DOWN,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from fractions import Fraction
from operator import index as _index

__all__ = [
    "FIXED_PRECISION_MAX",
    "FIXED_RAW_MAX",
    "FIXED_RAW_MIN",
    "Money",
    "Price",
    "Quantity",
]

#: The largest precision (decimal places) a fixed-point value can carry.
FIXED_PRECISION_MAX = PRECISION_MAX_C
#: The largest ``raw`` a fixed-point value can hold (int64 max).
FIXED_RAW_MAX = INT64_MAX
#: The smallest ``raw`` a Price or Money can hold (int64 min).
FIXED_RAW_MIN = INT64_MIN


cdef extern from *:
    """
    #include <stdint.h>
    /* Checked int64 arithmetic: return 1 (and leave *out unspecified) on overflow. */
    static inline int zq_fixed_add_overflow(int64_t a, int64_t b, int64_t *out) {
    #if defined(__GNUC__) || defined(__clang__)
        return __builtin_add_overflow(a, b, out);
    #else
        if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b)) return 1;
        *out = a + b;
        return 0;
    #endif
    }
    static inline int zq_fixed_sub_overflow(int64_t a, int64_t b, int64_t *out) {
    #if defined(__GNUC__) || defined(__clang__)
        return __builtin_sub_overflow(a, b, out);
    #else
        if ((b < 0 && a > INT64_MAX + b) || (b > 0 && a < INT64_MIN + b)) return 1;
        *out = a - b;
        return 0;
    #endif
    }
    static inline int zq_fixed_mul_overflow(int64_t a, int64_t b, int64_t *out) {
    #if defined(__GNUC__) || defined(__clang__)
        return __builtin_mul_overflow(a, b, out);
    #else
        /* C division truncates toward zero, which is what these bounds need. */
        if (a > 0) {
            if (b > 0) { if (a > INT64_MAX / b) return 1; }
            else if (b < INT64_MIN / a) return 1;
        } else if (b > 0) {
            if (a < INT64_MIN / b) return 1;
        } else if (a != 0 && b < INT64_MAX / a) return 1;
        *out = a * b;
        return 0;
    #endif
    }
    """
    bint _add_overflow "zq_fixed_add_overflow" (int64_t a, int64_t b, int64_t *out) noexcept
    bint _sub_overflow "zq_fixed_sub_overflow" (int64_t a, int64_t b, int64_t *out) noexcept
    bint _mul_overflow "zq_fixed_mul_overflow" (int64_t a, int64_t b, int64_t *out) noexcept


# --- Tables and contexts -------------------------------------------------------------------

cdef int64_t[10] _POW10 = [
    1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000
]
cdef double[10] _POW10_DOUBLE = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9]
# Scaled floats below 2**52 are converted in double arithmetic (see _raw_from_float).
cdef double _FLOAT_FAST_LIMIT = 4503599627370496.0

# Python's numeric hash reduces rationals modulo the Mersenne prime 2**61 - 1 (on 64-bit
# builds): hash(n / d) = n * inverse(d) mod P, with the sign applied and -1 mapped to -2.
# Precompute the inverses of 10**k once; elsewhere (32-bit builds) fall back to Fraction.
cdef enum:
    _HASH_BITS = 61
cdef uint64_t _HASH_MODULUS = (<uint64_t>1 << _HASH_BITS) - 1
cdef uint64_t[10] _HASH_INV_POW10
cdef bint _FAST_HASH = (
    sys.hash_info.modulus == <object>_HASH_MODULUS and sys.hash_info.width == 64
)
cdef int _k
if _FAST_HASH:
    for _k in range(PRECISION_MAX_C + 1):
        _HASH_INV_POW10[_k] = pow(_POW10[_k], -1, _HASH_MODULUS)

# Exact conversions: 60 digits hold an int64 product of two raws (39 digits) and every
# quantize below (at most 28 digits), so nothing done in these contexts is ever rounded.
cdef object _EXACT = Context(
    prec=60, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[InvalidOperation, Overflow]
)
cdef object _ROUNDING = Context(
    prec=60, rounding=ROUND_HALF_EVEN, Emax=MAX_EMAX, Emin=MIN_EMIN,
    traps=[InvalidOperation, Overflow],
)
# Division results: 28 significant digits, half-even, whatever the caller's thread context.
cdef object _DIVISION = Context(
    prec=28, rounding=ROUND_HALF_EVEN, Emax=MAX_EMAX, Emin=MIN_EMIN,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)
# Decimal("1E-p") for quantize.
cdef tuple _QUANTUM = tuple(Decimal(1).scaleb(-k) for k in range(PRECISION_MAX_C + 1))

cdef enum _RoundingMode:
    _NEAREST = 0
    _UP = 1
    _DOWN = 2


# --- Validation of inputs ------------------------------------------------------------------

cdef int _precision_from(object precision, str kind) except -1:
    """Return a validated precision (0..9)."""
    if type(precision) is bool or not isinstance(precision, int):
        try:
            precision = _index(precision)  # numpy integers
        except TypeError:
            raise TypeError(
                f"{kind} precision must be an int, got {type(precision).__name__}: {precision!r}"
            ) from None
    if not 0 <= precision <= PRECISION_MAX_C:
        raise ValueError(f"{kind} precision must be 0..{PRECISION_MAX_C}, got {precision!r}")
    return precision


cdef int64_t _raw_from(object raw, str kind) except? -1:
    """Return ``raw`` (a Python int) as int64; OverflowError naming it when it does not fit."""
    cdef int overflow = 0
    cdef long long value
    if type(raw) is bool or not isinstance(raw, int):
        try:
            raw = _index(raw)
        except TypeError:
            raise TypeError(
                f"{kind} raw must be an int, got {type(raw).__name__}: {raw!r}"
            ) from None
    value = PyLong_AsLongLongAndOverflow(raw, &overflow)
    if overflow:
        raise OverflowError(f"{kind} raw {raw!r} does not fit in int64")
    return value


cdef inline uint64_t _magnitude(int64_t raw) noexcept:
    """Return abs(raw) as uint64 (correct for INT64_MIN too)."""
    if raw >= 0:
        return <uint64_t>raw
    return <uint64_t>(-(raw + 1)) + 1


cdef int64_t _check_range(object scaled, object value, int precision, str kind) except? -1:
    """Return the Python int ``scaled`` as int64, or raise OverflowError naming ``value``."""
    if not INT64_MIN <= scaled <= INT64_MAX:
        raise OverflowError(
            f"{kind} value {value!r} at precision {precision} does not fit in int64 "
            f"(raw {scaled} is outside {INT64_MIN}..{INT64_MAX})"
        )
    return scaled


cdef int _parse_str(
    str text, int precision, bint infer, int64_t* raw_out, uint8_t* precision_out, str kind
) except -1:
    """Parse plain decimal notation (``[+-]digits[.digits]``) exactly, without Python ints."""
    cdef Py_ssize_t length = len(text)
    cdef Py_ssize_t start = 0, point = -1, i
    cdef Py_ssize_t fraction_digits, digits = 0, used_fraction
    cdef Py_UCS4 ch
    cdef bint negative = False
    cdef uint64_t magnitude = 0, limit, digit
    if length and (text[0] == u"-" or text[0] == u"+"):
        negative = text[0] == u"-"
        start = 1
    for i in range(start, length):
        ch = text[i]
        if u"0" <= ch <= u"9":
            digits += 1
        elif ch == u"." and point < 0:
            point = i
        else:
            digits = 0
            break
    if digits == 0:
        raise ValueError(
            f"invalid {kind} value {text!r}: expected a decimal number like '123.45' "
            f"(no exponent, spaces or underscores)"
        )
    fraction_digits = 0 if point < 0 else length - point - 1
    if infer:
        if fraction_digits > PRECISION_MAX_C:
            raise ValueError(
                f"{kind} value {text!r} has {fraction_digits} decimals; "
                f"at most {PRECISION_MAX_C} are supported"
            )
        precision = fraction_digits
    used_fraction = min(fraction_digits, precision)
    limit = (<uint64_t>INT64_MAX) + 1 if negative else <uint64_t>INT64_MAX
    # Integer digits, then the fraction digits the precision keeps; the rest must be zeros.
    for i in range(start, length if point < 0 else point + 1 + used_fraction):
        if i == point:
            continue
        ch = text[i]
        digit = <uint64_t>ch - 48  # 48 == ord("0")
        if magnitude > (limit - digit) // 10:
            raise OverflowError(
                f"{kind} value {text!r} at precision {precision} does not fit in int64"
            )
        magnitude = magnitude * 10 + digit
    if point >= 0:
        for i in range(point + 1 + used_fraction, length):
            if text[i] != u"0":
                raise ValueError(
                    f"{kind} value {text!r} is not representable at precision {precision} "
                    f"(it has more than {precision} decimals)"
                )
    if used_fraction < precision:
        if magnitude > limit // <uint64_t>_POW10[precision - used_fraction]:
            raise OverflowError(
                f"{kind} value {text!r} at precision {precision} does not fit in int64"
            )
        magnitude *= <uint64_t>_POW10[precision - used_fraction]
    if negative:
        raw_out[0] = -<int64_t>(magnitude - 1) - 1 if magnitude else 0
    else:
        raw_out[0] = <int64_t>magnitude
    precision_out[0] = <uint8_t>precision
    return 0


cdef extern from *:
    """
    #include <stdint.h>
    /* The fields of a CPython _decimal Decimal (Modules/_decimal/_decimal.c: PyDecObject,
       whose number is libmpdec's mpd_t), read without a call. The layout is checked once at
       import against known values (_decimal_layout_holds); where it does not hold, nothing
       reads it. */
    typedef struct {
        uint8_t flags;          /* MPD_NEG 1; MPD_INF 2, MPD_NAN 4, MPD_SNAN 8: special */
        Py_ssize_t exp;
        Py_ssize_t digits;
        Py_ssize_t len;         /* words of data, each below 10**19 on 64-bit builds */
        Py_ssize_t alloc;
        uint64_t *data;
    } zq_fixed_mpd;
    typedef struct {
        PyObject_HEAD
        Py_hash_t hash;
        zq_fixed_mpd dec;
    } zq_fixed_decimal;

    /* A finite Decimal whose coefficient fits one word: 1 with its sign, coefficient and
       exponent (value = (-1)**negative * coefficient * 10**exponent); 0 for any other. */
    static int zq_fixed_decimal_fields(PyObject *value, int *negative, uint64_t *coefficient,
                                       int64_t *exponent) {
        const zq_fixed_mpd *dec = &((const zq_fixed_decimal *)value)->dec;
        if ((dec->flags & 14) || dec->len != 1 || sizeof(Py_ssize_t) != 8) return 0;
        *negative = dec->flags & 1;
        *coefficient = dec->data[0];
        *exponent = (int64_t)dec->exp;
        return 1;
    }
    """
    ctypedef struct zq_fixed_decimal:
        pass
    int zq_fixed_decimal_fields(
        object value, int* negative, uint64_t* coefficient, int64_t* exponent
    ) noexcept


# Powers of ten up to 10**19 (the coefficient of a one-word Decimal is below 10**19).
cdef uint64_t[20] _UPOW10
_UPOW10[0] = 1
for _k in range(1, 20):
    _UPOW10[_k] = _UPOW10[_k - 1] * 10


cdef bint _decimal_layout_holds() except -1:
    """Whether zq_fixed_decimal_fields reads this Python's Decimal right (checked on values
    whose fields are known; any mismatch turns the direct read off)."""
    cdef int negative = 0
    cdef uint64_t coefficient = 0
    cdef int64_t exponent = 0
    cdef tuple expected
    # The C Decimal (not _pydecimal's class, a heap type), at least as large as the struct.
    if sys.implementation.name != "cpython" or Decimal.__flags__ & (1 << 9):
        return False
    if Decimal.__basicsize__ < sizeof(zq_fixed_decimal):
        return False
    for text, expected in (
        ("-12.345", (1, 12345, -3)),
        ("0", (0, 0, 0)),
        ("7E+5", (0, 7, 5)),
        ("9999999999999999999", (0, 9999999999999999999, 0)),
        ("0.000000001", (0, 1, -9)),
        ("-0.10", (1, 10, -2)),
    ):
        if not zq_fixed_decimal_fields(Decimal(text), &negative, &coefficient, &exponent):
            return False
        if (negative, coefficient, exponent) != expected:
            return False
    for text in ("NaN", "-Infinity", "sNaN", "10000000000000000000"):
        if zq_fixed_decimal_fields(Decimal(text), &negative, &coefficient, &exponent):
            return False  # specials and two-word coefficients are refused
    return True


cdef bint _DECIMAL_DIRECT = _decimal_layout_holds()


cdef bint _decimal_direct(
    object value, int precision, bint infer, int64_t* raw_out, uint8_t* precision_out
) except -1:
    """Convert the Decimal ``value`` from its fields: exactly representable at ``precision``
    (or, with ``infer``, at its decimals, ``-exponent``, 0..9) and inside int64; return
    False for anything else (the text or the general route decides and words it)."""
    cdef int negative = 0
    cdef uint64_t coefficient = 0, limit, unit
    cdef int64_t exponent = 0, shift
    if not zq_fixed_decimal_fields(value, &negative, &coefficient, &exponent):
        return False
    if infer:
        if exponent < -PRECISION_MAX_C:
            return False
        precision = <int>(-exponent) if exponent < 0 else 0
    shift = exponent + precision
    limit = (<uint64_t>INT64_MAX) + 1 if negative else <uint64_t>INT64_MAX
    if coefficient == 0:
        pass
    elif shift >= 0:
        if shift > 18 or coefficient > limit // _UPOW10[shift]:
            return False
        coefficient *= _UPOW10[shift]
    else:
        if shift < -19:
            return False  # a nonzero coefficient below 10**19 has decimals past precision
        unit = _UPOW10[-shift]
        if coefficient % unit != 0:
            return False  # not representable: the general route words it
        coefficient //= unit
    if coefficient > limit:
        return False
    if negative:
        raw_out[0] = -<int64_t>(coefficient - 1) - 1 if coefficient else 0
    else:
        raw_out[0] = <int64_t>coefficient
    precision_out[0] = <uint8_t>precision
    return True


cdef bint _decimal_plain(
    object value, int precision, bint infer, int64_t* raw_out, uint8_t* precision_out
) except -1:
    """Convert the Decimal ``value`` from its text when that is plain notation, exactly
    representable at ``precision`` (or, with ``infer``, at the decimals written, 0..9) and
    inside int64; return False for anything else (the general route decides and words it).

    ``str(Decimal)`` writes plain notation ``[-]digits[.digits]`` exactly when the exponent
    is at most 0 and the value is not tiny (``Decimal("1E+2")`` and ``Decimal("1E-7")`` are
    written with an exponent and go the general route), and then the decimals written are
    ``-exponent``: the digits read here are the value's coefficient, so the result is the one
    ``quantize`` and ``scaleb`` give, for about a tenth of the work.
    """
    cdef Py_ssize_t length, i = 0, point = -1, fraction_digits, end
    cdef str written = str(value)  # kept alive while ``text`` points into it
    cdef const char* text = PyUnicode_AsUTF8AndSize(written, &length)
    cdef bint negative = False
    cdef uint64_t magnitude = 0, limit, digit
    cdef char ch
    if length and text[0] == c"-":
        negative = True
        i = 1
    if i == length or text[i] == c".":
        return False
    for end in range(i, length):
        ch = text[end]
        if ch == c".":
            if point >= 0:
                return False
            point = end
        elif not c"0" <= ch <= c"9":
            return False  # an exponent, NaN, Infinity
    fraction_digits = 0 if point < 0 else length - point - 1
    if infer:
        if fraction_digits > PRECISION_MAX_C:
            return False
        precision = <int>fraction_digits
    # The fraction digits past the precision must be zeros (else not representable).
    for end in range(length - fraction_digits + precision, length):
        if text[end] != c"0":
            return False
    end = length if fraction_digits <= precision else length - fraction_digits + precision
    limit = (<uint64_t>INT64_MAX) + 1 if negative else <uint64_t>INT64_MAX
    for i in range(i, end):
        if i == point:
            continue
        digit = <uint64_t>(text[i] - c"0")
        if magnitude > (limit - digit) // 10:
            return False
        magnitude = magnitude * 10 + digit
    if fraction_digits < precision:
        if magnitude > limit // <uint64_t>_POW10[precision - fraction_digits]:
            return False
        magnitude *= <uint64_t>_POW10[precision - fraction_digits]
    if negative:
        raw_out[0] = -<int64_t>(magnitude - 1) - 1 if magnitude else 0
    else:
        raw_out[0] = <int64_t>magnitude
    precision_out[0] = <uint8_t>precision
    return True


cdef int64_t _raw_from_decimal(
    object value, int precision, bint rounding, object shown, str kind
) except? -1:
    """Return finite Decimal ``value`` at ``precision``: exact, or half-even if ``rounding``.

    A value too large is refused (OverflowError) before one with too many decimals
    (ValueError), the same order as the string parser.
    """
    cdef object quantized
    cdef int64_t raw
    if value.is_zero():
        return 0
    if value.adjusted() >= 19:  # |value| >= 1e19 > int64 max at any precision
        raise OverflowError(
            f"{kind} value {shown!r} at precision {precision} does not fit in int64"
        )
    quantized = value.quantize(
        _QUANTUM[precision], rounding=ROUND_HALF_EVEN if rounding else ROUND_DOWN,
        context=_ROUNDING,
    )
    raw = _check_range(int(quantized.scaleb(precision, _EXACT)), shown, precision, kind)
    if not rounding and quantized != value:
        raise ValueError(
            f"{kind} value {shown!r} is not representable at precision {precision} "
            f"(it has more than {precision} decimals)"
        )
    return raw


cdef int64_t _raw_from_float(object value, int precision, str kind) except? -1:
    """Return the float ``value`` rounded half-even to ``precision`` from its shortest repr.

    The shortest repr (what the user sees: 2.675) is rounded, not the binary expansion
    (2.67499999...). The fast path scales in double arithmetic and keeps the result when
    it is clearly not near a tie; otherwise the exact Decimal route decides.
    """
    cdef double number = value
    cdef double scaled = number * _POW10_DOUBLE[precision]
    cdef double nearest
    # The shortest repr differs from ``number`` by at most half an ulp and the product
    # adds at most another: together under |scaled| * 2**-51 < |scaled| * 1e-15. If
    # ``scaled`` is farther than that from a half, the repr rounds to the same integer.
    # NaN fails the range test and takes the exact route, which refuses it.
    if -_FLOAT_FAST_LIMIT < scaled < _FLOAT_FAST_LIMIT:
        nearest = rint(scaled)
        if fabs(scaled - nearest) < 0.5 - fabs(scaled) * 1e-15:
            return <int64_t>nearest
    if not math.isfinite(number):
        raise ValueError(f"invalid {kind} value {value!r}: not a finite number")
    return _raw_from_decimal(Decimal(float.__repr__(number)), precision, True, value, kind)


cdef int _parse(
    object value, int precision, bint infer, int64_t* raw_out, uint8_t* precision_out, str kind
) except -1:
    """Convert ``value`` (int, str, Decimal or float) to raw at ``precision``.

    With ``infer`` the precision is the number of decimals written (str, Decimal) or 0 (int).
    """
    cdef long long small
    cdef int overflow = 0
    cdef int64_t raw
    cdef int exponent
    if isinstance(value, str):
        return _parse_str(<str>value, precision, infer, raw_out, precision_out, kind)
    if isinstance(value, float):
        if infer:
            raise TypeError(
                f"{kind} from a float needs an explicit precision, got {value!r}; "
                f"pass a precision or a str"
            )
        raw_out[0] = _raw_from_float(value, precision, kind)
        precision_out[0] = <uint8_t>precision
        return 0
    if isinstance(value, Decimal):
        if type(value) is Decimal and (
            (_DECIMAL_DIRECT and _decimal_direct(value, precision, infer, raw_out, precision_out))
            or _decimal_plain(value, precision, infer, raw_out, precision_out)
        ):
            return 0
        if not value.is_finite():
            raise ValueError(f"invalid {kind} value {value!r}: not a finite number")
        if infer:
            exponent = value.as_tuple().exponent
            precision = -exponent if exponent < 0 else 0
            if precision > PRECISION_MAX_C:
                raise ValueError(
                    f"{kind} value {value!r} has {precision} decimals; "
                    f"at most {PRECISION_MAX_C} are supported"
                )
        raw_out[0] = _raw_from_decimal(value, precision, False, value, kind)
        precision_out[0] = <uint8_t>precision
        return 0
    if type(value) is bool:
        raise TypeError(f"{kind} value must be a number, got a bool: {value!r}")
    if not isinstance(value, int):
        try:
            value = _index(value)  # numpy integers
        except TypeError:
            raise TypeError(
                f"{kind} value must be int, str, Decimal or float, "
                f"got {type(value).__name__}: {value!r}"
            ) from None
    if infer:
        precision = 0
    small = PyLong_AsLongLongAndOverflow(value, &overflow)
    if overflow or _mul_overflow(small, _POW10[precision], &raw):
        raise OverflowError(
            f"{kind} value {value!r} at precision {precision} does not fit in int64"
        )
    raw_out[0] = raw
    precision_out[0] = <uint8_t>precision
    return 0


cdef int _mode_from(str mode) except -1:
    if mode == "nearest":
        return _NEAREST
    if mode == "up":
        return _UP
    if mode == "down":
        return _DOWN
    raise ValueError(f"rounding mode must be 'nearest', 'up' or 'down', got {mode!r}")


# --- Exact raw arithmetic ------------------------------------------------------------------

cdef str _format(int64_t raw, uint8_t precision):
    """Return ``raw`` as a decimal string with exactly ``precision`` (0..18) decimals."""
    # 32 bytes hold the longest: sign, 19 digits or 18 decimals and a leading zero, point.
    cdef char[32] buffer
    cdef int position = 32
    cdef int _
    cdef uint64_t magnitude = _magnitude(raw)
    for _ in range(precision):
        position -= 1
        buffer[position] = <char>(48 + magnitude % 10)
        magnitude //= 10
    if precision:
        position -= 1
        buffer[position] = b"."
    while True:
        position -= 1
        buffer[position] = <char>(48 + magnitude % 10)
        magnitude //= 10
        if magnitude == 0:
            break
    if raw < 0:
        position -= 1
        buffer[position] = b"-"
    return buffer[position:32].decode("ascii")


cdef int64_t rescale_raw_c(
    int64_t raw, uint8_t from_precision, uint8_t to_precision
) except? -1:
    cdef int64_t result
    if to_precision < from_precision or to_precision > PRECISION_MAX_C:
        raise ValueError(
            f"cannot rescale from precision {from_precision} to {to_precision} exactly"
        )
    if _mul_overflow(raw, _POW10[to_precision - from_precision], &result):
        raise OverflowError(
            f"{_format(raw, from_precision)} at precision {to_precision} does not fit in int64"
        )
    return result


cdef int compare_raw_c(
    int64_t left, uint8_t left_precision, int64_t right, uint8_t right_precision
) noexcept:
    cdef int64_t scaled
    if left_precision < right_precision:
        # If the rescaled left leaves int64 it is beyond every int64, so its sign decides.
        if _mul_overflow(left, _POW10[right_precision - left_precision], &scaled):
            return 1 if left > 0 else -1
        left = scaled
    elif right_precision < left_precision:
        if _mul_overflow(right, _POW10[left_precision - right_precision], &scaled):
            return -1 if right > 0 else 1
        right = scaled
    return (left > right) - (left < right)


cdef int _compare_int(int64_t raw, uint8_t precision, object other) noexcept:
    """Compare raw/10**precision with the Python int ``other``."""
    cdef int overflow = 0
    cdef long long value = PyLong_AsLongLongAndOverflow(other, &overflow)
    cdef int64_t scaled
    # |other| beyond int64 (or beyond it once scaled) exceeds every fixed-point value.
    if overflow:
        return -overflow
    if _mul_overflow(value, _POW10[precision], &scaled):
        return -1 if value > 0 else 1
    return (raw > scaled) - (raw < scaled)


cdef inline bint _compare_result(int order, int op) noexcept:
    if op == Py_EQ:
        return order == 0
    if op == Py_NE:
        return order != 0
    if op == Py_LT:
        return order < 0
    if op == Py_LE:
        return order <= 0
    if op == Py_GT:
        return order > 0
    return order >= 0


cdef inline uint64_t _mulmod_hash(uint64_t a, uint64_t b) noexcept:
    """Return a * b mod 2**61 - 1 for a, b < 2**61, without 128-bit integers."""
    # With a = a1*2**31 + a0, b = b1*2**31 + b0 and 2**61 == 1 (mod P):
    #   a*b == 2*a1*b1 + mid*2**31 + a0*b0, where mid = a1*b0 + a0*b1 and
    #   mid*2**31 == (mid >> 30) + (mid & (2**30 - 1)) * 2**31.
    # Every term stays below 2**62, so the sum fits in uint64.
    cdef uint64_t a1 = a >> 31, a0 = a & 0x7FFFFFFF
    cdef uint64_t b1 = b >> 31, b0 = b & 0x7FFFFFFF
    cdef uint64_t mid = a1 * b0 + a0 * b1
    cdef uint64_t x = ((a1 * b1) << 1) + (mid >> 30) + ((mid & 0x3FFFFFFF) << 31) + a0 * b0
    x = (x & _HASH_MODULUS) + (x >> _HASH_BITS)
    if x >= _HASH_MODULUS:
        x -= _HASH_MODULUS
    return x


cdef Py_hash_t _hash_fixed(int64_t raw, uint8_t precision) except -1:
    """Return hash(Fraction(raw, 10**precision)), computed in C."""
    cdef uint64_t magnitude
    cdef Py_hash_t result
    if not _FAST_HASH:
        return hash(Fraction(raw, _POW10[precision]))
    magnitude = _magnitude(raw)
    magnitude = (magnitude & _HASH_MODULUS) + (magnitude >> _HASH_BITS)
    if magnitude >= _HASH_MODULUS:
        magnitude -= _HASH_MODULUS
    result = <Py_hash_t>_mulmod_hash(magnitude, _HASH_INV_POW10[precision])
    if raw < 0:
        result = -result
    return -2 if result == -1 else result


cdef object _decimal(int64_t raw, uint8_t precision):
    """Return raw/10**precision as a Decimal with exactly ``precision`` decimals."""
    # Parsing the formatted string is the fastest exact route into a Decimal.
    return Decimal(_format(raw, precision))


cdef int64_t _EXACT_DOUBLE = (<int64_t>1) << 53  # typed: the bounds compare in C


cdef double _double(int64_t raw, uint8_t precision) noexcept:
    # Both operands are exact doubles below 2**53, so IEEE division rounds correctly.
    if -_EXACT_DOUBLE <= raw <= _EXACT_DOUBLE:
        return <double>raw / _POW10_DOUBLE[precision]
    return (<object>raw) / _POW10[precision]  # Python's int division rounds correctly


cdef object _truncate(int64_t raw, uint8_t precision):
    """Return int(raw / 10**precision), truncated toward zero."""
    cdef uint64_t magnitude = _magnitude(raw) // <uint64_t>_POW10[precision]
    if raw < 0:
        return -<object>magnitude
    return <object>magnitude


cdef object _product(int64_t left, uint8_t left_precision, int64_t right, uint8_t right_precision):
    """Return the exact product of two fixed-point values as a Decimal."""
    cdef int64_t raw
    if _mul_overflow(left, right, &raw):
        return Decimal(<object>left * <object>right).scaleb(
            -(left_precision + right_precision), _EXACT
        )
    return Decimal(_format(raw, left_precision + right_precision))


cdef object _divide(object dividend, object divisor):
    """Return dividend / divisor (Decimals or ints) in the 28-digit division context."""
    if not divisor:  # 0/0 too: a ZeroDivisionError, not decimal's InvalidOperation
        raise ZeroDivisionError(f"cannot divide {dividend} by zero")
    return _DIVISION.divide(dividend, divisor)


cdef int _add(
    int64_t left, uint8_t left_precision, int64_t right, uint8_t right_precision,
    bint subtract, int64_t* raw_out, uint8_t* precision_out, str kind,
) except -1:
    """Add (or subtract) exactly at the larger of the two precisions."""
    cdef uint8_t precision = left_precision
    cdef int64_t a = left, b = right
    cdef bint overflow
    cdef object total
    if left_precision != right_precision:
        if left_precision < right_precision:
            precision = right_precision
            overflow = _mul_overflow(left, _POW10[precision - left_precision], &a)
        else:
            overflow = _mul_overflow(right, _POW10[precision - right_precision], &b)
        if overflow:
            # The rescaled operand leaves int64 but the result may not (1e16 - 0.001):
            # finish with Python ints.
            total = <object>left * _POW10[precision - left_precision]
            if subtract:
                total -= <object>right * _POW10[precision - right_precision]
            else:
                total += <object>right * _POW10[precision - right_precision]
            if not INT64_MIN <= total <= INT64_MAX:
                _raise_arithmetic_overflow(
                    left, left_precision, right, right_precision, subtract, kind
                )
            raw_out[0] = total
            precision_out[0] = precision
            return 0
    if subtract:
        overflow = _sub_overflow(a, b, raw_out)
    else:
        overflow = _add_overflow(a, b, raw_out)
    if overflow:
        _raise_arithmetic_overflow(left, left_precision, right, right_precision, subtract, kind)
    precision_out[0] = precision
    return 0


cdef int _raise_arithmetic_overflow(
    int64_t left, uint8_t left_precision, int64_t right, uint8_t right_precision,
    bint subtract, str kind,
) except -1:
    raise OverflowError(
        f"{kind} {_format(left, left_precision)} {'-' if subtract else '+'} "
        f"{_format(right, right_precision)} does not fit in int64 at precision "
        f"{max(left_precision, right_precision)}"
    )


cdef int64_t _multiply(int64_t raw, uint8_t precision, object factor, str kind) except? -1:
    """Return raw * factor (a Python int) at the same precision; OverflowError if too big."""
    cdef int overflow = 0
    cdef long long small = PyLong_AsLongLongAndOverflow(factor, &overflow)
    cdef int64_t result
    if overflow and raw == 0:
        return 0  # zero times any int, however large
    if overflow or _mul_overflow(raw, small, &result):
        raise OverflowError(
            f"{kind} {_format(raw, precision)} * {factor!r} does not fit in int64 "
            f"at precision {precision}"
        )
    return result


cdef int64_t _round_raw(
    int64_t raw, uint8_t precision, int64_t increment, uint8_t increment_precision,
    int mode, str kind,
) except? -1:
    """Return the raw, at ``increment_precision``, of the nearest multiple of ``increment``.

    ``mode`` picks the neighbour: half-even to the nearest, toward +inf (up) or toward -inf
    (down). Division is floor division throughout, which is what makes negatives right.
    """
    cdef int64_t quotient, remainder, result
    cdef object big_raw, big_increment, big_quotient, big_remainder
    cdef uint8_t common
    if precision == increment_precision:
        quotient = raw // increment
        remainder = raw % increment  # 0 <= remainder < increment
        if remainder:
            if mode == _UP:
                quotient += 1
            elif mode == _NEAREST and (
                remainder > increment - remainder
                or (remainder == increment - remainder and quotient % 2)
            ):
                quotient += 1
        if not _mul_overflow(quotient, increment, &result):
            return result
        return _check_range(<object>quotient * increment, _format(raw, precision),
                            increment_precision, kind)
    # Different precisions: work at the larger one with Python ints (no overflow to manage).
    common = max(precision, increment_precision)
    big_raw = <object>raw * _POW10[common - precision]
    big_increment = <object>increment * _POW10[common - increment_precision]
    big_quotient, big_remainder = divmod(big_raw, big_increment)
    if big_remainder:
        if mode == _UP:
            big_quotient += 1
        elif mode == _NEAREST and (
            2 * big_remainder > big_increment
            or (2 * big_remainder == big_increment and big_quotient % 2)
        ):
            big_quotient += 1
    return _check_range(big_quotient * increment, _format(raw, precision),
                        increment_precision, kind)


cdef bint _is_multiple(
    int64_t raw, uint8_t precision, int64_t increment, uint8_t increment_precision
):
    cdef uint8_t common
    if precision == increment_precision:
        return raw % increment == 0
    common = max(precision, increment_precision)
    return (
        <object>raw * _POW10[common - precision]
        % (<object>increment * _POW10[common - increment_precision])
        == 0
    )


# --- Price ---------------------------------------------------------------------------------

@cython.final
@cython.freelist(64)
cdef class Price:
    """A price: an exact decimal with a fixed number of decimal places (0..9).

    Parameters
    ----------
    value : int, str, Decimal or float
        The price. An int, str or Decimal must be exactly representable at ``precision``
        (``Price("1.234", 2)`` is refused). A float is rounded half-even to ``precision``
        from its shortest repr (``Price(2.675, 2) == Price("2.68")``); use floats only at the
        edges.
    precision : int, optional
        Decimal places, 0..9. When omitted it is the number of decimals written for a str or
        Decimal (``Price("1.20")`` has precision 2) and 0 for an int; a float needs it.

    Raises
    ------
    ValueError
        If the value is malformed, not finite, or has more decimals than ``precision``, or
        the precision is outside 0..9.
    OverflowError
        If ``value * 10**precision`` does not fit in int64.
    TypeError
        If the value is not an int, str, Decimal or float.

    Notes
    -----
    Prices compare and hash exactly across precisions and with int and Decimal
    (``Price("1.10") == Price("1.1") == Decimal("1.1")``, with equal hashes). Comparing with
    a float is not supported: ``==`` is False and ``<`` raises TypeError. A Price never
    equals a Quantity, and ordering them raises TypeError.

    ``+`` and ``-`` take another Price and give a Price at the larger precision; adding an
    int or Decimal raises TypeError (build a Price first). ``* int`` gives a Price at the
    same precision; ``Price * Quantity`` gives the exact notional as a Decimal. ``/`` by a
    Price, Quantity, int or Decimal gives a Decimal rounded half-even to 28 significant
    digits, whatever the thread's decimal context.
    """

    def __init__(self, value, precision=None):
        cdef bint infer = precision is None
        _parse(
            value, 0 if infer else _precision_from(precision, "Price"), infer,
            &self.raw, &self.precision, "Price",
        )

    # --- Alternative constructors

    @staticmethod
    def from_raw(raw, precision):
        """Return the Price ``raw / 10**precision``.

        Parameters
        ----------
        raw : int
            The value times ``10**precision``; must fit in int64.
        precision : int
            Decimal places, 0..9.

        Returns
        -------
        Price
        """
        return price_from_raw_c(_raw_from(raw, "Price"), _precision_from(precision, "Price"))

    @staticmethod
    def from_str(str value not None):
        """Return the Price written in ``value``, at the number of decimals written.

        ``Price.from_str("1.2300")`` has precision 4.
        """
        cdef Price price = Price.__new__(Price)
        _parse_str(value, 0, True, &price.raw, &price.precision, "Price")
        return price

    @staticmethod
    def from_int(value):
        """Return the Price of the int ``value`` at precision 0."""
        cdef Price price = Price.__new__(Price)
        if isinstance(value, str):
            raise TypeError(f"Price.from_int needs an int, got str: {value!r}")
        _parse(value, 0, True, &price.raw, &price.precision, "Price")
        return price

    # --- Conversions

    def as_decimal(self):
        """Return the exact value as a Decimal with ``precision`` decimals."""
        return _decimal(self.raw, self.precision)

    def as_double(self):
        """Return the nearest float (for display and statistics only)."""
        return _double(self.raw, self.precision)

    def __float__(self):
        return _double(self.raw, self.precision)

    def __int__(self):
        # Truncate toward zero, like int(Decimal) and int(float).
        return _truncate(self.raw, self.precision)

    def __bool__(self):
        return self.raw != 0

    def __str__(self):
        return _format(self.raw, self.precision)

    def __repr__(self):
        return f"Price('{_format(self.raw, self.precision)}')"

    def __format__(self, str spec):
        if not spec:
            return _format(self.raw, self.precision)
        return format(_decimal(self.raw, self.precision), spec)

    def __reduce__(self):
        return (_restore_price, (self.raw, self.precision))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    # --- Comparison and hashing

    def __richcmp__(self, other, int op):
        cdef int order
        if isinstance(other, Price):
            order = compare_raw_c(
                self.raw, self.precision, (<Price>other).raw, (<Price>other).precision
            )
        elif isinstance(other, int):
            order = _compare_int(self.raw, self.precision, other)
        elif isinstance(other, Decimal):
            return PyObject_RichCompare(_decimal(self.raw, self.precision), other, op)
        else:
            return NotImplemented
        return _compare_result(order, op)

    def __hash__(self):
        return _hash_fixed(self.raw, self.precision)

    # --- Arithmetic

    def __neg__(self):
        if self.raw == INT64_MIN:
            raise OverflowError(f"-Price('{self}') does not fit in int64")
        return price_from_raw_c(-self.raw, self.precision)

    def __pos__(self):
        return self

    def __abs__(self):
        if self.raw >= 0:
            return self
        return -self

    def __add__(self, other):
        cdef Price result
        if not isinstance(other, Price):
            return NotImplemented
        result = Price.__new__(Price)
        _add(self.raw, self.precision, (<Price>other).raw, (<Price>other).precision, False,
             &result.raw, &result.precision, "Price")
        return result

    def __sub__(self, other):
        cdef Price result
        if not isinstance(other, Price):
            return NotImplemented
        result = Price.__new__(Price)
        _add(self.raw, self.precision, (<Price>other).raw, (<Price>other).precision, True,
             &result.raw, &result.precision, "Price")
        return result

    def __mul__(self, other):
        if isinstance(other, Quantity):
            return _product(self.raw, self.precision,
                            (<Quantity>other).raw, (<Quantity>other).precision)
        if isinstance(other, int):
            return price_from_raw_c(
                _multiply(self.raw, self.precision, other, "Price"), self.precision
            )
        return NotImplemented

    def __rmul__(self, other):
        if isinstance(other, int):
            return price_from_raw_c(
                _multiply(self.raw, self.precision, other, "Price"), self.precision
            )
        return NotImplemented

    def __truediv__(self, other):
        cdef object divisor
        if isinstance(other, Price):
            divisor = _decimal((<Price>other).raw, (<Price>other).precision)
        elif isinstance(other, Quantity):
            divisor = _decimal((<Quantity>other).raw, (<Quantity>other).precision)
        elif isinstance(other, (int, Decimal)):
            divisor = other
        else:
            return NotImplemented
        return _divide(_decimal(self.raw, self.precision), divisor)

    def __rtruediv__(self, other):
        if isinstance(other, (int, Decimal)):
            return _divide(other, _decimal(self.raw, self.precision))
        return NotImplemented

    # --- Grid rounding

    def round_to_increment(self, Price increment not None, str mode not None="nearest"):
        """Return the multiple of ``increment`` nearest this price, at its precision.

        Parameters
        ----------
        increment : Price
            The grid step (a tick size); must be positive.
        mode : {"nearest", "up", "down"}
            ``"nearest"`` rounds half to even (an exact half-way price goes to the even
            multiple), ``"up"`` toward +inf and ``"down"`` toward -inf, for negatives too.

        Returns
        -------
        Price
            At ``increment.precision``.

        Raises
        ------
        ValueError
            If ``increment`` is not positive or ``mode`` is unknown.
        """
        cdef int mode_code = _mode_from(mode)
        if increment.raw <= 0:
            raise ValueError(f"increment must be positive, got {increment!r}")
        return price_from_raw_c(
            _round_raw(self.raw, self.precision, increment.raw, increment.precision,
                       mode_code, "Price"),
            increment.precision,
        )

    def round_to_tick(self, Price tick not None, str mode not None="nearest"):
        """Return this price on the tick grid; see `round_to_increment`."""
        return self.round_to_increment(tick, mode)

    def is_multiple_of(self, Price increment not None):
        """Return whether this price is an exact multiple of the positive ``increment``."""
        if increment.raw <= 0:
            raise ValueError(f"increment must be positive, got {increment!r}")
        return _is_multiple(self.raw, self.precision, increment.raw, increment.precision)


cdef Price price_from_raw_c(int64_t raw, uint8_t precision):
    cdef Price price = Price.__new__(Price)
    price.raw = raw
    price.precision = precision
    return price


def _restore_price(raw, precision):
    """Unpickle a Price (validates, as pickles may come from anywhere)."""
    return Price.from_raw(raw, precision)


# --- Quantity ------------------------------------------------------------------------------

@cython.final
@cython.freelist(64)
cdef class Quantity:
    """A quantity (size, volume): a non-negative exact decimal with 0..9 decimal places.

    Parameters
    ----------
    value : int, str, Decimal or float
        The quantity, never negative. An int, str or Decimal must be exactly representable
        at ``precision``; a float is rounded half-even to ``precision`` from its shortest
        repr.
    precision : int, optional
        Decimal places, 0..9. When omitted it is the number of decimals written for a str or
        Decimal and 0 for an int; a float needs it.

    Raises
    ------
    ValueError
        If the value is negative, malformed, not finite, or has more decimals than
        ``precision``, or the precision is outside 0..9.
    OverflowError
        If ``value * 10**precision`` does not fit in int64.
    TypeError
        If the value is not an int, str, Decimal or float.

    Notes
    -----
    Behaves like `Price` (exact comparison and hashing across precisions and with int and
    Decimal; ``+``, ``-``, ``* int``; ``/`` gives a Decimal), except that a result below
    zero raises ValueError: ``Quantity(1) - Quantity(2)`` and ``-Quantity(1)`` are refused.
    ``Quantity * Price`` is the exact notional as a Decimal.
    """

    def __init__(self, value, precision=None):
        cdef bint infer = precision is None
        _parse(
            value, 0 if infer else _precision_from(precision, "Quantity"), infer,
            &self.raw, &self.precision, "Quantity",
        )
        if self.raw < 0:
            raise ValueError(f"Quantity must not be negative, got {value!r}")

    # --- Alternative constructors

    @staticmethod
    def from_raw(raw, precision):
        """Return the Quantity ``raw / 10**precision``.

        Parameters
        ----------
        raw : int
            The value times ``10**precision``; must fit in int64 and not be negative.
        precision : int
            Decimal places, 0..9.

        Returns
        -------
        Quantity
        """
        cdef int64_t value = _raw_from(raw, "Quantity")
        if value < 0:
            raise ValueError(f"Quantity raw must not be negative, got {raw!r}")
        return quantity_from_raw_c(value, _precision_from(precision, "Quantity"))

    @staticmethod
    def from_str(str value not None):
        """Return the Quantity written in ``value``, at the number of decimals written."""
        cdef Quantity quantity = Quantity.__new__(Quantity)
        _parse_str(value, 0, True, &quantity.raw, &quantity.precision, "Quantity")
        if quantity.raw < 0:
            raise ValueError(f"Quantity must not be negative, got {value!r}")
        return quantity

    @staticmethod
    def from_int(value):
        """Return the Quantity of the int ``value`` at precision 0."""
        cdef Quantity quantity = Quantity.__new__(Quantity)
        if isinstance(value, str):
            raise TypeError(f"Quantity.from_int needs an int, got str: {value!r}")
        _parse(value, 0, True, &quantity.raw, &quantity.precision, "Quantity")
        if quantity.raw < 0:
            raise ValueError(f"Quantity must not be negative, got {value!r}")
        return quantity

    # --- Conversions

    def as_decimal(self):
        """Return the exact value as a Decimal with ``precision`` decimals."""
        return _decimal(self.raw, self.precision)

    def as_double(self):
        """Return the nearest float (for display and statistics only)."""
        return _double(self.raw, self.precision)

    def __float__(self):
        return _double(self.raw, self.precision)

    def __int__(self):
        # Truncate toward zero, like int(Decimal) and int(float).
        return _truncate(self.raw, self.precision)

    def __bool__(self):
        return self.raw != 0

    def __str__(self):
        return _format(self.raw, self.precision)

    def __repr__(self):
        return f"Quantity('{_format(self.raw, self.precision)}')"

    def __format__(self, str spec):
        if not spec:
            return _format(self.raw, self.precision)
        return format(_decimal(self.raw, self.precision), spec)

    def __reduce__(self):
        return (_restore_quantity, (self.raw, self.precision))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    # --- Comparison and hashing

    def __richcmp__(self, other, int op):
        cdef int order
        if isinstance(other, Quantity):
            order = compare_raw_c(
                self.raw, self.precision, (<Quantity>other).raw, (<Quantity>other).precision
            )
        elif isinstance(other, int):
            order = _compare_int(self.raw, self.precision, other)
        elif isinstance(other, Decimal):
            return PyObject_RichCompare(_decimal(self.raw, self.precision), other, op)
        else:
            return NotImplemented
        return _compare_result(order, op)

    def __hash__(self):
        return _hash_fixed(self.raw, self.precision)

    # --- Arithmetic

    def __neg__(self):
        if self.raw:
            raise ValueError(f"-Quantity('{self}') would be negative")
        return self

    def __pos__(self):
        return self

    def __abs__(self):
        return self

    def __add__(self, other):
        cdef Quantity result
        if not isinstance(other, Quantity):
            return NotImplemented
        result = Quantity.__new__(Quantity)
        _add(self.raw, self.precision, (<Quantity>other).raw, (<Quantity>other).precision,
             False, &result.raw, &result.precision, "Quantity")
        return result

    def __sub__(self, other):
        cdef Quantity result
        if not isinstance(other, Quantity):
            return NotImplemented
        result = Quantity.__new__(Quantity)
        _add(self.raw, self.precision, (<Quantity>other).raw, (<Quantity>other).precision,
             True, &result.raw, &result.precision, "Quantity")
        if result.raw < 0:
            raise ValueError(f"Quantity {self} - {other} would be negative")
        return result

    def __mul__(self, other):
        if isinstance(other, Price):
            return _product(self.raw, self.precision,
                            (<Price>other).raw, (<Price>other).precision)
        if isinstance(other, int):
            return _scale_quantity(self, other)
        return NotImplemented

    def __rmul__(self, other):
        if isinstance(other, int):
            return _scale_quantity(self, other)
        return NotImplemented

    def __truediv__(self, other):
        cdef object divisor
        if isinstance(other, Quantity):
            divisor = _decimal((<Quantity>other).raw, (<Quantity>other).precision)
        elif isinstance(other, Price):
            divisor = _decimal((<Price>other).raw, (<Price>other).precision)
        elif isinstance(other, (int, Decimal)):
            divisor = other
        else:
            return NotImplemented
        return _divide(_decimal(self.raw, self.precision), divisor)

    def __rtruediv__(self, other):
        if isinstance(other, (int, Decimal)):
            return _divide(other, _decimal(self.raw, self.precision))
        return NotImplemented

    # --- Grid rounding

    def round_to_increment(self, Quantity increment not None, str mode not None="nearest"):
        """Return the multiple of ``increment`` nearest this quantity, at its precision.

        Parameters
        ----------
        increment : Quantity
            The grid step (a lot size); must be positive.
        mode : {"nearest", "up", "down"}
            ``"nearest"`` rounds half to even, ``"up"`` toward +inf, ``"down"`` toward -inf
            (toward zero, for a quantity).

        Returns
        -------
        Quantity
            At ``increment.precision``.

        Raises
        ------
        ValueError
            If ``increment`` is not positive or ``mode`` is unknown.
        """
        cdef int mode_code = _mode_from(mode)
        if increment.raw <= 0:
            raise ValueError(f"increment must be positive, got {increment!r}")
        return quantity_from_raw_c(
            _round_raw(self.raw, self.precision, increment.raw, increment.precision,
                       mode_code, "Quantity"),
            increment.precision,
        )

    def round_to_lot(self, Quantity lot not None, str mode not None="down"):
        """Return this quantity on the lot grid, rounding down by default.

        See `round_to_increment`.
        """
        return self.round_to_increment(lot, mode)

    def is_multiple_of(self, Quantity increment not None):
        """Return whether this quantity is an exact multiple of the positive ``increment``."""
        if increment.raw <= 0:
            raise ValueError(f"increment must be positive, got {increment!r}")
        return _is_multiple(self.raw, self.precision, increment.raw, increment.precision)


cdef Quantity quantity_from_raw_c(int64_t raw, uint8_t precision):
    cdef Quantity quantity = Quantity.__new__(Quantity)
    quantity.raw = raw
    quantity.precision = precision
    return quantity


cdef Quantity _scale_quantity(Quantity quantity, object factor):
    cdef int64_t raw = _multiply(quantity.raw, quantity.precision, factor, "Quantity")
    if raw < 0:
        raise ValueError(f"Quantity {quantity} * {factor!r} would be negative")
    return quantity_from_raw_c(raw, quantity.precision)


def _restore_quantity(raw, precision):
    """Unpickle a Quantity (validates, as pickles may come from anywhere)."""
    return Quantity.from_raw(raw, precision)


# --- Money ---------------------------------------------------------------------------------

cdef str _currency_code(object currency):
    code = getattr(currency, "code", None)
    if not isinstance(code, str) or not code:
        raise TypeError(
            f"Money currency must have a non-empty str .code, got {currency!r}"
        )
    return code


cdef int _currency_precision(object currency) except -1:
    try:
        precision = currency.precision
    except AttributeError:
        raise TypeError(f"Money currency must have a .precision, got {currency!r}") from None
    return _precision_from(precision, "Money")


cdef inline int _require_same_currency(Money left, Money right, str operation) except -1:
    if left.currency is right.currency or (
        left._code == right._code and left.precision == right.precision
    ):
        return 0
    if left._code == right._code:
        raise ValueError(
            f"cannot {operation} {left._code} amounts of different precisions "
            f"({left.precision} and {right.precision})"
        )
    raise ValueError(
        f"cannot {operation} Money in different currencies: {left._code} and {right._code}"
    )


# Money refers to its currency but no Money is reachable from a currency, so it cannot be
# part of a reference cycle; leaving it out of the GC keeps churned balances cheap.
@cython.final
@cython.no_gc
@cython.freelist(32)
cdef class Money:
    """An amount of money: an exact decimal at its currency's precision.

    Parameters
    ----------
    value : int, str, Decimal or float
        The amount, which may be negative. An int, str or Decimal must be exactly
        representable at ``currency.precision``; a float is rounded half-even to it from its
        shortest repr.
    currency : Currency
        Any object with ``code`` (str) and ``precision`` (int, 0..9), such as
        ``zq.model.currency.Currency``.

    Raises
    ------
    ValueError
        If the value is malformed, not finite, or has more decimals than the currency's
        precision.
    OverflowError
        If the amount does not fit in int64 at the currency's precision.
    TypeError
        If the value is not an int, str, Decimal or float, or ``currency`` lacks ``code`` or
        ``precision``.

    Notes
    -----
    ``+``, ``-`` and ordering need the same currency (by code) and raise ValueError naming
    both codes otherwise; amounts in different currencies are never equal. Money compares
    only with Money (``Money(0, USD) == 0`` is False: use ``bool(money)`` or
    ``money.raw``). ``* int`` gives Money; ``/`` by Money of the same currency, an int or a
    Decimal gives a Decimal (28 significant digits, half-even). The hash includes the
    currency code.
    """

    def __init__(self, value, currency):
        cdef int precision = _currency_precision(currency)
        cdef str code = _currency_code(currency)
        _parse(value, precision, False, &self.raw, &self.precision, "Money")
        self.currency = currency
        self._code = code

    @staticmethod
    def from_raw(raw, currency):
        """Return the Money ``raw / 10**currency.precision`` in ``currency``.

        Parameters
        ----------
        raw : int
            The amount times ``10**currency.precision``; must fit in int64.
        currency : Currency
            Any object with ``code`` (str) and ``precision`` (int, 0..9).

        Returns
        -------
        Money
        """
        cdef Money money = Money.__new__(Money)
        money.precision = <uint8_t>_currency_precision(currency)
        money._code = _currency_code(currency)
        money.raw = _raw_from(raw, "Money")
        money.currency = currency
        return money

    # --- Conversions

    def as_decimal(self):
        """Return the exact amount as a Decimal with the currency's decimals."""
        return _decimal(self.raw, self.precision)

    def as_double(self):
        """Return the nearest float (for display and statistics only)."""
        return _double(self.raw, self.precision)

    def __float__(self):
        return _double(self.raw, self.precision)

    def __bool__(self):
        return self.raw != 0

    def __str__(self):
        return f"{_format(self.raw, self.precision)} {self._code}"

    def __repr__(self):
        return f"Money('{_format(self.raw, self.precision)}', {self._code})"

    def __reduce__(self):
        return (_restore_money, (self.raw, self.currency))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    # --- Comparison and hashing

    def __richcmp__(self, other, int op):
        cdef Money right
        if not isinstance(other, Money):
            return NotImplemented
        right = <Money>other
        if self.currency is not right.currency and self._code != right._code:
            if op == Py_EQ:
                return False
            if op == Py_NE:
                return True
            _require_same_currency(self, right, "compare")
        return _compare_result(
            compare_raw_c(self.raw, self.precision, right.raw, right.precision), op
        )

    def __hash__(self):
        return hash((self._code, _hash_fixed(self.raw, self.precision)))

    # --- Arithmetic

    def __neg__(self):
        if self.raw == INT64_MIN:
            raise OverflowError(f"-Money('{self}') does not fit in int64")
        return money_like_c(self, -self.raw)

    def __pos__(self):
        return self

    def __abs__(self):
        if self.raw >= 0:
            return self
        return -self

    def __add__(self, other):
        cdef int64_t raw
        cdef uint8_t precision
        if not isinstance(other, Money):
            return NotImplemented
        _require_same_currency(self, <Money>other, "add")
        _add(self.raw, self.precision, (<Money>other).raw, self.precision, False,
             &raw, &precision, self._code)
        return money_like_c(self, raw)

    def __sub__(self, other):
        cdef int64_t raw
        cdef uint8_t precision
        if not isinstance(other, Money):
            return NotImplemented
        _require_same_currency(self, <Money>other, "subtract")
        _add(self.raw, self.precision, (<Money>other).raw, self.precision, True,
             &raw, &precision, self._code)
        return money_like_c(self, raw)

    def __mul__(self, other):
        if isinstance(other, int):
            return money_like_c(
                self, _multiply(self.raw, self.precision, other, self._code)
            )
        return NotImplemented

    def __rmul__(self, other):
        if isinstance(other, int):
            return money_like_c(
                self, _multiply(self.raw, self.precision, other, self._code)
            )
        return NotImplemented

    def __truediv__(self, other):
        cdef object divisor
        if isinstance(other, Money):
            _require_same_currency(self, <Money>other, "divide")
            divisor = _decimal((<Money>other).raw, (<Money>other).precision)
        elif isinstance(other, (int, Decimal)):
            divisor = other
        else:
            return NotImplemented
        return _divide(_decimal(self.raw, self.precision), divisor)


cdef Money money_from_raw_c(int64_t raw, object currency):
    cdef Money money = Money.__new__(Money)
    money.raw = raw
    money.precision = <uint8_t>_currency_precision(currency)
    money.currency = currency
    money._code = _currency_code(currency)
    return money


def _restore_money(raw, currency):
    """Unpickle Money (validates, as pickles may come from anywhere)."""
    return Money.from_raw(raw, currency)
