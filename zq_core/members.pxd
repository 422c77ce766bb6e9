"""Object fields of compiled classes exposed as read-only members (see zq_members.h)."""

from cpython.object cimport PyTypeObject
from cpython.ref cimport PyObject


cdef extern from "zq_members.h":
    ctypedef struct PyMemberDef:
        const char* name
        int type
        Py_ssize_t offset
        int flags
        const char* doc
    int zq_expose_member(
        PyTypeObject* type, PyMemberDef* definition, const char* name, PyObject* probe,
        PyObject* marker, const char* doc,
    ) except -1
