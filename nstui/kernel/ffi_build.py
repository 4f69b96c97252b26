"""Generates ``nstui/kernel/_ffi.py``: cffi out-of-line ABI mode, no compiler needed.

The generated module is committed; run ``python -m nstui.kernel.ffi_build`` after changing
CDEF (a test checks the committed file matches). In-line ``cdef`` parsing would cost ~70 ms
at every start; the pre-parsed module imports in a few milliseconds.
"""

from __future__ import annotations

import pathlib
import tempfile

CDEF = """
long syscall(long number, ...);
int setns(int fd, int nstype);
int unshare(int flags);
int mount(const char *source, const char *target, const char *filesystemtype,
          unsigned long mountflags, const void *data);
int umount2(const char *target, int flags);
"""

MODULE = "nstui.kernel._ffi"


def build(out_dir: pathlib.Path) -> pathlib.Path:
    from cffi import FFI

    ffibuilder = FFI()
    ffibuilder.cdef(CDEF)
    ffibuilder.set_source(MODULE, None)
    with tempfile.TemporaryDirectory() as tmp:
        generated = pathlib.Path(tmp) / "_ffi.py"
        ffibuilder.emit_python_code(str(generated))
        target = out_dir / "_ffi.py"
        target.write_text(generated.read_text())
    return target


if __name__ == "__main__":
    print(build(pathlib.Path(__file__).parent))
