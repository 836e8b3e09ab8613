"""Build the ahead-of-time libraries of :mod:`tinysim_gym.core.aot` (numba, llvmlite and a C compiler needed).

For each kernel with an ``aot=`` signature: numba compiles a C-callable wrapper (``numba.cfunc``) that views
the raw pointers as arrays and calls the kernel's dispatcher, so the code is numba's own, from the same
optimised LLVM module the JIT runs. llvmlite emits it as a position-independent object for this CPU, and
the C compiler links it with a few runtime stubs into ``<module>.<qualname>.so``, exporting one function.

The stubs stand in for numba's helper library, which the machine code calls on rare paths only:
``frexp``/``ldexp`` (numba's semantics), the GIL and the allocation of a kernel's own arrays (numba's
``MemInfo`` header over ``malloc``) for real. The exception helpers, and the wrapper's report of an error
(``PyErr_WriteUnraisable``, renamed in the object), mark the calling thread's call as failed and print
nothing; the caller raises a one-line ``TinySimError``, so a kernel that raises never returns a number
silently. The build checks each declared signature against the types numba infers for it, and writes each
library to a temporary name that is renamed (or removed) at the end.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinysim_gym.core import aot, jit
from tinysim_gym.errors import TinySimError

STUBS = r"""
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* set when the kernel raised, per thread (ctypes releases the GIL around the call) */
static _Thread_local int tinysim_failed_here = 0;

int tinysim_take_failure(void) {
    int failed = tinysim_failed_here;
    tinysim_failed_here = 0;
    return failed;
}

/* numba's wrapper reports an error through PyErr_WriteUnraisable, renamed to this in the object: the error
   is the caller's to raise (one line), not a traceback on stderr */
void tinysim_write_unraisable(PyObject *obj) {
    tinysim_failed_here = 1;
    PyErr_Clear();
}

double numba_frexp(double x, int *exp) {
    if (!isfinite(x) || !x) { *exp = 0; return x; }
    return frexp(x, exp);
}

double numba_ldexp(double x, int exp) {
    if (isfinite(x) && x && exp) x = ldexp(x, exp);
    return x;
}

void numba_gil_ensure(PyGILState_STATE *state) { *state = PyGILState_Ensure(); }
void numba_gil_release(PyGILState_STATE *state) { PyGILState_Release(*state); }

PyObject *numba_unpickle(const char *data, int n, const char *hashed) { Py_RETURN_NONE; }
PyObject *numba_runtime_build_excinfo_struct(PyObject *gv, PyObject *args) { Py_RETURN_NONE; }
int numba_do_raise(PyObject *exc) { Py_XDECREF(exc); tinysim_failed_here = 1; return 0; }

/* numba's runtime for the arrays a kernel allocates itself: the MemInfo header the generated code reads
   (the reference count first, the data pointer fourth) and the data behind it, in one malloc'ed block */
typedef struct {
    size_t refct;
    void (*dtor)(void *, size_t, void *);
    void *dtor_info;
    void *data;
    size_t size;
    void *external_allocator;
} MemInfo;

void *NRT_MemInfo_alloc_aligned(size_t size, unsigned align) {
    size_t a = align ? align : 1;
    char *base = malloc(sizeof(MemInfo) + size + a);
    if (!base) return NULL; /* the kernel raises MemoryError: a failure */
    MemInfo *mi = (MemInfo *)base;
    uintptr_t p = (uintptr_t)(base + sizeof(MemInfo));
    if (p % a) p += a - p % a;
    mi->refct = 1;
    mi->dtor = NULL;
    mi->dtor_info = NULL;
    mi->data = (void *)p;
    mi->size = size;
    mi->external_allocator = NULL;
    return mi;
}

void NRT_MemInfo_call_dtor(void *mi) { free(mi); }
void NRT_Free(void *ptr) { free(ptr); }
"""


@dataclass(frozen=True)
class Built:
    """One kernel's library: where it is, whether it was built now (else found), and how long it took."""

    kernel: str
    path: Path
    built: bool
    seconds: float


def build(out_dir: Path | None = None, force: bool = False) -> list[Built]:
    """Build the library of every kernel decorated so far with an ``aot=`` signature (missing ones only).

    Import the modules whose kernels should be built before calling this.

    Raises:
        TinySimError: no C compiler, or a kernel that cannot be built (nothing half-written is left).
    """
    kernels = [k for k in jit.kernels() if k.aot is not None]
    settings = aot.numba_settings()
    if settings:
        raise TinySimError(f"build-kernels: {settings[0]} is set; it changes numba's code, and the libraries are "
                           "built without it (unset or remove it)")
    out = out_dir or aot.library_dir()
    cc = _compiler()
    results = []
    for kernel in kernels:
        f = kernel.py_func
        name = f"{f.__module__}.{f.__qualname__}"
        path = out / aot.library_name(f.__module__, f.__qualname__, f.__code__.co_filename)
        if path.is_file() and not force:
            results.append(Built(name, path, False, 0.0))
            continue
        if cc is None:
            raise TinySimError("build-kernels: no C compiler found (set CC, or install gcc)")
        t0 = time.perf_counter()
        out.mkdir(parents=True, exist_ok=True)
        _build_one(kernel, path, cc)
        results.append(Built(name, path, True, time.perf_counter() - t0))
    return results


def _compiler() -> list[str] | None:
    """The C compiler command: ``$CC`` (which may carry flags), else ``cc``, else ``gcc``; None if none is found."""
    cc = shlex.split(os.environ.get("CC", "")) or ["cc"]
    found = shutil.which(cc[0])
    if found:
        return [found, *cc[1:]]
    gcc = shutil.which("gcc")
    return [gcc] if gcc and not os.environ.get("CC") else None


def _build_one(kernel: jit.Kernel, path: Path, cc: list[str]) -> None:
    import llvmlite.binding as ll

    sig = aot.parse_signature(kernel.aot or "")
    cfunc = _wrapper(kernel, sig)
    module = ll.parse_assembly(str(cfunc._library._final_module))
    module.get_function(cfunc.native_name).name = aot.SYMBOL
    for fn in module.functions:  # the wrapper's error report goes to the stub (see the module's docstring)
        if fn.name == "PyErr_WriteUnraisable" and fn.is_declaration:
            fn.name = "tinysim_write_unraisable"
    machine = ll.Target.from_default_triple().create_target_machine(
        cpu=ll.get_host_cpu_name(), features=ll.get_host_cpu_features().flatten(), opt=3, reloc="pic",
        codemodel="default",
    )
    with tempfile.TemporaryDirectory(prefix="tinysim-aot-") as tmp:
        obj, stubs, lib = Path(tmp) / "kernel.o", Path(tmp) / "stubs.c", Path(tmp) / "kernel.so"
        obj.write_bytes(machine.emit_object(module))
        stubs.write_text(STUBS)
        cmd = [*cc, "-shared", "-fPIC", "-O2", f"-I{sysconfig.get_paths()['include']}", "-o", str(lib), str(obj),
               str(stubs), "-lm"]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            said = " ".join((res.stderr + res.stdout).split())[:300] or "no message"
            raise TinySimError(f"build-kernels: {kernel.py_func.__qualname__}: the C compiler ({cc[0]}) failed with "
                               f"exit code {res.returncode}: {said}")
        try:  # every symbol resolves here (a runtime function the stubs lack would fail each later load)
            aot.Entry(lib, sig, kernel.py_func.__qualname__)
        except OSError as exc:
            raise TinySimError(f"build-kernels: {kernel.py_func.__qualname__}: the library does not load: "
                               f"{exc}") from None
        tmp_target = path.with_name(path.name + f".{os.getpid()}.tmp")
        try:
            shutil.copyfile(lib, tmp_target)
            os.replace(tmp_target, path)
        finally:
            tmp_target.unlink(missing_ok=True)


def _wrapper(kernel: jit.Kernel, sig: aot.Signature) -> Any:
    """A ``numba.cfunc`` taking (pointer, length) per array and calling the kernel's dispatcher."""
    import numba
    from numba import types

    arrays = {"i8[]": types.int64, "f8[]": types.float64, "u4[]": types.uint32}
    scalars = {"i8": types.int64, "f8": types.float64}
    params: list[str] = []
    call: list[str] = []
    ctypes_: list[Any] = []
    for i, kind in enumerate(sig.args):
        if kind in arrays:
            params += [f"p{i}", f"n{i}"]
            call.append(f"carray(p{i}, n{i})")
            ctypes_ += [types.CPointer(arrays[kind]), types.int64]
        else:
            params.append(f"s{i}")
            call.append(f"s{i}")
            ctypes_.append(scalars[kind])
    _check_signature(kernel, sig, [types.Array(arrays[k], 1, "C") if k in arrays else scalars[k] for k in sig.args])
    body = f"target({', '.join(call)})"
    if sig.tuple_len:
        params.append("out")
        ctypes_.append(types.CPointer(types.int64))
        lines = [f"    r = {body}"] + [f"    out[{j}] = r[{j}]" for j in range(sig.tuple_len)]
        result = types.void
    elif sig.result == "none":
        lines, result = [f"    {body}"], types.void
    else:
        lines, result = [f"    return {body}"], scalars[sig.result]
    source = f"def entry({', '.join(params)}):\n" + "\n".join(lines) + "\n"
    namespace: dict[str, Any] = {"target": kernel.dispatcher, "carray": numba.carray}
    exec(compile(source, f"<aot wrapper of {kernel.py_func.__qualname__}>", "exec"), namespace)  # our own text
    return numba.cfunc(result(*ctypes_), cache=False)(namespace["entry"])


def _check_signature(kernel: jit.Kernel, sig: aot.Signature, argtypes: list[Any]) -> None:
    """Refuse a declared result that is not what numba infers for the declared arguments (a silent cast else).

    Raises:
        TinySimError: the kernel does not compile for those arguments, or returns another type.
    """
    from numba import types

    want = {"i8": types.int64, "f8": types.float64, "none": types.none}.get(sig.result)
    if sig.tuple_len:
        want = types.UniTuple(types.int64, sig.tuple_len)
    name = kernel.py_func.__qualname__
    try:
        kernel.dispatcher.compile(tuple(argtypes))
        got = kernel.dispatcher.overloads[tuple(argtypes)].signature.return_type
    except Exception as exc:  # numba's typing errors have many classes: all mean "not these arguments"
        raise TinySimError(f"build-kernels: {name}: does not compile for its aot signature {kernel.aot!r}: "
                           f"{' '.join(str(exc).split())[:200]}") from None
    if got != want:
        raise TinySimError(f"build-kernels: {name}: its aot signature {kernel.aot!r} declares {sig.result}, "
                           f"numba infers {got}")
