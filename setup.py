"""Build the compiled core (``zq_core``) with Cython.

Every ``zq_core/*.pyx`` becomes an extension module. Environment switches:

- ``ZQ_DEBUG=1``: annotate (HTML next to each .pyx), line tracing and asserts on;
- ``ZQ_ONLY=bus,fixed``: build only the named modules (for fast iteration on one module).
"""

import os
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

ROOT = Path(__file__).parent
DEBUG = os.environ.get("ZQ_DEBUG") == "1"
ONLY = {name for name in os.environ.get("ZQ_ONLY", "").split(",") if name}

# Safe directives stay on globally (STYLE.md): bounds checks, wraparound and Python
# division semantics. A function that turns one off does so locally, with a comment.
DIRECTIVES = {
    "language_level": "3",
    "boundscheck": True,
    "wraparound": True,
    "cdivision": False,
    "initializedcheck": True,
    "embedsignature": True,
    "binding": False,
    "profile": DEBUG,
    "linetrace": DEBUG,
}

macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
if DEBUG:
    macros += [("CYTHON_TRACE", "1"), ("CYTHON_TRACE_NOGIL", "1")]
compile_args = ["-O0", "-g"] if DEBUG else ["-O3"]


def extensions() -> list[Extension]:
    modules = []
    for pyx in sorted((ROOT / "zq_core").glob("*.pyx")):
        if ONLY and pyx.stem not in ONLY:
            continue
        modules.append(
            Extension(
                f"zq_core.{pyx.stem}",
                [str(pyx.relative_to(ROOT))],
                include_dirs=[numpy.get_include()],
                define_macros=macros,
                extra_compile_args=compile_args,
            )
        )
    return modules


setup(
    ext_modules=cythonize(
        extensions(),
        compiler_directives=DIRECTIVES,
        annotate=DEBUG,
        nthreads=os.cpu_count() or 1,
    ),
)
