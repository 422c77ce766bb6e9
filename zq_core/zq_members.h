/* An object field of a compiled class exposed as a read-only member descriptor.

   Cython exposes ``cdef readonly object`` fields through a property (the generic attribute
   look-up and a call per read); a member descriptor of type T_OBJECT_EX is read by the
   interpreter straight from the instance (3.11 specializes it). zq_expose_member finds the
   field's offset in a probe instance holding ``marker`` there (Cython gives no address of an
   object field) and sets the type's attribute ``def->name`` to the member. ``def`` must
   outlive the type (static storage). Public C API only. */
#ifndef ZQ_MEMBERS_H
#define ZQ_MEMBERS_H

#include <Python.h>
#include <structmember.h>

static int zq_expose_member(PyTypeObject* type, PyMemberDef* def, const char* name,
                            PyObject* probe, PyObject* marker, const char* doc) {
    Py_ssize_t offset = sizeof(PyObject);
    while (*(PyObject**)((char*)probe + offset) != marker) {
        offset += sizeof(PyObject*);
        if (offset + (Py_ssize_t)sizeof(PyObject*) > type->tp_basicsize) {
            PyErr_Format(PyExc_RuntimeError, "%s: the field of %s is not found",
                         type->tp_name, name);
            return -1;
        }
    }
    def->name = name;
    def->type = T_OBJECT_EX;
    def->offset = offset;
    def->flags = READONLY;
    def->doc = doc;
    PyObject* descriptor = PyDescr_NewMember(type, def);
    if (descriptor == NULL) return -1;
    int failed = PyDict_SetItemString(type->tp_dict, name, descriptor);
    Py_DECREF(descriptor);
    if (failed < 0) return -1;
    PyType_Modified(type);
    return 0;
}

#endif
