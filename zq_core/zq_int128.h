/* 128-bit integers for zq_core's exact arithmetic (positions, PnL, margins).

   GCC and Clang have __int128: zq_i128 is that type, and a value that passes it takes
   the callers' Python-int route. Without __int128, zq_i128 is int64_t and the helpers
   below report every conversion as "does not fit", so the callers always take the
   Python-int route: the results are the same either way, only slower.

   Shared by zq_core.position and zq_core.portfolio (each includes it, with
   `cdef extern from "zq_int128.h"`): one definition of each helper. */
#ifndef ZQ_INT128_H
#define ZQ_INT128_H

#include <Python.h>
#include <stdint.h>
#include <string.h>

#if defined(__SIZEOF_INT128__)
#define ZQ_HAVE_INT128 1
typedef __int128 zq_i128;

/* CPython 3.11's int: |ob_size| digits of PyLong_SHIFT bits, least significant first,
   the sign in ob_size. Read and made directly (a tenth of the byte-array route) while the
   number has at most four 30-bit digits (< 2**120); the byte-array route else. */
#if PY_VERSION_HEX < 0x030C0000 && PyLong_SHIFT == 30
#define ZQ_LONG_DIGITS 1
#else
#define ZQ_LONG_DIGITS 0
#endif

/* int(v) as __int128; 0 (no exception set) when v is not an exact int or needs more
   bits. */
static inline int zq_as_int128(PyObject *v, zq_i128 *out) {
    unsigned char bytes[16];
    if (!PyLong_CheckExact(v)) return 0;
#if ZQ_LONG_DIGITS
    {
        Py_ssize_t size = Py_SIZE(v);
        Py_ssize_t count = size < 0 ? -size : size;
        if (count <= 4) {
            const digit *digits = ((PyLongObject *)v)->ob_digit;
            unsigned __int128 magnitude = 0;
            for (Py_ssize_t i = count - 1; i >= 0; i--)
                magnitude = (magnitude << PyLong_SHIFT) | digits[i];
            *out = size < 0 ? -(zq_i128)magnitude : (zq_i128)magnitude;
            return 1;
        }
    }
#endif
    if (_PyLong_AsByteArray((PyLongObject *)v, bytes, 16, PY_LITTLE_ENDIAN, 1) < 0) {
        PyErr_Clear();
        return 0;
    }
    memcpy(out, bytes, 16);
    return 1;
}

/* A new Python int of value v (NULL with an exception when out of memory). */
static inline PyObject *zq_int128_to_long(zq_i128 v) {
    unsigned char bytes[16];
    if (v >= (zq_i128)INT64_MIN && v <= (zq_i128)INT64_MAX)
        return PyLong_FromLongLong((long long)v);
#if ZQ_LONG_DIGITS
    {
        unsigned __int128 magnitude = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
        if (magnitude < ((unsigned __int128)1 << 120)) {
            Py_ssize_t count = 0;
            PyLongObject *made;
            for (unsigned __int128 rest = magnitude; rest != 0; rest >>= PyLong_SHIFT)
                count++;
            made = _PyLong_New(count);
            if (made == NULL) return NULL;
            for (Py_ssize_t i = 0; i < count; i++) {
                made->ob_digit[i] = (digit)(magnitude & PyLong_MASK);
                magnitude >>= PyLong_SHIFT;
            }
            if (v < 0) Py_SET_SIZE(made, -count);
            return (PyObject *)made;
        }
    }
#endif
    memcpy(bytes, &v, 16);
    return _PyLong_FromByteArray(bytes, 16, PY_LITTLE_ENDIAN, 1);
}

/* a + b, a - b, a * b into *out; 0 when the result passes 127 bits. */
static inline int zq_add128(zq_i128 a, zq_i128 b, zq_i128 *out) {
    return !__builtin_add_overflow(a, b, out);
}
static inline int zq_sub128(zq_i128 a, zq_i128 b, zq_i128 *out) {
    return !__builtin_sub_overflow(a, b, out);
}
static inline int zq_mul128(zq_i128 a, zq_i128 b, zq_i128 *out) {
    return !__builtin_mul_overflow(a, b, out);
}

/* a + b, a - b of int64 into *out; 0 when the result leaves int64. */
static inline int zq_add64(int64_t a, int64_t b, int64_t *out) {
    return !__builtin_add_overflow(a, b, out);
}
static inline int zq_sub64(int64_t a, int64_t b, int64_t *out) {
    return !__builtin_sub_overflow(a, b, out);
}

#else  /* no __int128: every helper says "does not fit" */
#define ZQ_HAVE_INT128 0
typedef int64_t zq_i128;
static inline int zq_as_int128(PyObject *v, zq_i128 *out) { return 0; }
static inline PyObject *zq_int128_to_long(zq_i128 v) { return PyLong_FromLongLong(v); }
static inline int zq_add128(zq_i128 a, zq_i128 b, zq_i128 *out) { return 0; }
static inline int zq_sub128(zq_i128 a, zq_i128 b, zq_i128 *out) { return 0; }
static inline int zq_mul128(zq_i128 a, zq_i128 b, zq_i128 *out) { return 0; }
static inline int zq_add64(int64_t a, int64_t b, int64_t *out) { return 0; }
static inline int zq_sub64(int64_t a, int64_t b, int64_t *out) { return 0; }
#endif

#endif  /* ZQ_INT128_H */
