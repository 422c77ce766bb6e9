# The contract of zq_core.slots: msgspec struct fields read at their slot offsets.

from cpython.ref cimport PyObject


# The offset of the object slot ``name`` in instances of ``kind`` (-1: none, read by name).
cdef Py_ssize_t slot_offset(object kind, str name) except -2


# The field ``name`` of ``obj``: from its slot at ``offset`` when ``obj`` is exactly of
# ``kind`` (the class the offset was found on), else by name.
cdef inline object read_field(object obj, object kind, Py_ssize_t offset, str name):
    cdef PyObject* value
    if offset > 0 and type(obj) is kind:
        value = (<PyObject**>((<char*><PyObject*>obj) + offset))[0]
        if value is not NULL:
            return <object>value
    return getattr(obj, name)
