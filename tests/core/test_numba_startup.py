"""Numba's BLAS probe is answered without importing scipy.linalg, and np.dot under numba still works."""

from __future__ import annotations

import subprocess
import sys


def test_engine_import_skips_scipy_linalg_and_dot_still_uses_blas():
    code = (
        "import sys, numpy as np, numba\n"
        "import tinysim_gym.core.engine\n"
        "from numba.np import arraymath\n"  # the registry whose import probes for BLAS
        "assert 'scipy.linalg' not in sys.modules, 'probe imported scipy.linalg'\n"
        "assert arraymath._HAVE_BLAS\n"
        "f = numba.njit(lambda a, b: np.dot(a, b))\n"
        "a = np.arange(6.0).reshape(2, 3)\n"
        "assert (f(a, a.T) == a @ a.T).all()\n"
        "assert 'scipy.linalg' in sys.modules, 'a real np.dot loads BLAS then'\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
