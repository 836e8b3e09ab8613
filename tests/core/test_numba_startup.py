"""Numba's cheaper start: a cached kernel loads without the lowering registries, the BLAS probe does not
import scipy.linalg, and compiling afterwards (np.dot with BLAS included) still works."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def run_child(code: str, cache_dir: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


def test_compiling_after_engine_import_skips_scipy_linalg_and_dot_still_uses_blas(tmp_path):
    code = (
        "import sys, numpy as np, numba\n"
        "import tinysim_gym.core.engine\n"
        "numba.njit(lambda x: x + 1)(1)\n"  # the first compile loads every registry, array math among them
        "from numba.np import arraymath\n"
        "assert 'scipy.linalg' not in sys.modules, 'probe imported scipy.linalg'\n"
        "assert arraymath._HAVE_BLAS\n"
        "f = numba.njit(lambda a, b: np.dot(a, b))\n"
        "a = np.arange(6.0).reshape(2, 3)\n"
        "assert (f(a, a.T) == a @ a.T).all()\n"
        "assert 'scipy.linalg' in sys.modules, 'a real np.dot loads BLAS then'\n"
    )
    res = run_child(code, str(tmp_path))
    assert res.returncode == 0, res.stderr


#: a cached kernel of its own (arrays, math, a loop), then a compilation in the same process
KERNEL = """
import numpy as np
from numba import njit


@njit(cache=True)
def charge(n, d):
    out = np.empty(n)
    r = 1.0
    for i in range(n):
        r = r - d * (1.0 + 0.5 * np.sin(i))
        out[i] = r
    return out
"""

CHILD = """
import json, sys
import numba, numpy as np
import tinysim_gym.core
from tinysim_gym.core import numba_startup
numba_startup.LEAN_PACKAGES += ("kernel",)  # the test's kernel is plain @njit code, as the project's are
import kernel

out = {"charge": kernel.charge(1000, 1e-4).tolist(), "registries": "numba.np.npyimpl" in sys.modules,
       "scipy": "scipy.linalg" in sys.modules}
total = numba.njit(lambda a: a.sum())  # a compile after a lean load sees every registry
out["compiled"] = float(total(np.arange(4.0)))
print(json.dumps(out))
"""


def test_a_cached_kernel_loads_without_registries_and_gives_the_same_result(tmp_path):
    (tmp_path / "kernel.py").write_text(KERNEL)
    code = f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n" + CHILD
    fresh = run_child(code, str(tmp_path / "cache"))  # compiles and fills the cache: every registry loaded
    assert fresh.returncode == 0, fresh.stderr
    warm = run_child(code, str(tmp_path / "cache"))
    assert warm.returncode == 0, warm.stderr
    first, second = json.loads(fresh.stdout), json.loads(warm.stdout)
    assert first["registries"] and not second["registries"]
    assert not second["scipy"]
    assert second["charge"] == first["charge"]
    assert first["charge"][-1] < 1.0
    assert second["compiled"] == 6.0


#: a library's cached ufunc: its wrapper is built after the load from the context's constant tables
UFUNCS = """
from numba import vectorize, guvectorize


@vectorize(["float64(float64)"], cache=True)
def twice(x):
    return 2.0 * x


@guvectorize(["void(float64[:], float64[:])"], "(n)->()", cache=True)
def total(a, out):
    out[0] = a.sum()
"""

UFUNC_CHILD = """
import json
import numpy as np
import tinysim_gym.core
import ufuncs

print(json.dumps([ufuncs.twice(np.arange(3.0)).tolist(), float(ufuncs.total(np.arange(4.0)))]))
"""


def test_a_librarys_cached_ufuncs_still_load_after_the_engine_import(tmp_path):
    """The lean load once left a cached @vectorize without the constants its wrapper needs (a crash)."""
    (tmp_path / "ufuncs.py").write_text(UFUNCS)
    code = f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n" + UFUNC_CHILD
    runs = [run_child(code, str(tmp_path / "cache")) for _ in range(2)]  # compiles, then loads from the cache
    for res in runs:
        assert res.returncode == 0, res.stderr[-2000:]
        assert json.loads(res.stdout) == [[0.0, 2.0, 4.0], 6.0]
    assert list((tmp_path / "cache").rglob("*.nbi"))  # the second run did read a cache
