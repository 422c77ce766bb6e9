"""The fields of msgspec structs read at their slot offsets, without an attribute look-up.

msgspec keeps a struct's fields as object slots, each described by a member descriptor on
the class. :func:`slot_offset` finds a field's offset once; ``read_field`` (slots.pxd) then
reads it from an instance of exactly that class, and falls back to ``getattr`` for any
other object (or an unset slot), so a caller never depends on what it is given.
"""

from types import MemberDescriptorType


__all__ = []


cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member

cdef extern from "structmember.h":
    enum:
        T_OBJECT_EX


cdef Py_ssize_t slot_offset(object kind, str name) except -2:
    """The offset of the object slot ``name`` in instances of ``kind``; -1 when it has none
    (the field is then read by name)."""
    if not isinstance(kind, type):
        return -1
    descriptor = getattr(kind, name, None)
    if type(descriptor) is not MemberDescriptorType:
        return -1
    cdef PyMemberDef* member = (<PyMemberDescrObject*>descriptor).d_member
    if member.type != T_OBJECT_EX or member.offset <= 0:
        return -1
    return member.offset
