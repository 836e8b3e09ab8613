"""The original's random selector with a compiled fast path (draws made in bulk, same sequence)."""

from __future__ import annotations

import numpy as np

from baselines.fast import NEED_MORE, CompiledForm
from baselines.original import RandomSelector
from tinysim_gym.core import kernels as K
from tinysim_gym.core.jit import njit
from tinysim_gym.core.view import DecisionView

_BLOCK = 1 << 14


@njit(cache=True)
def _loop(ST, FS, PI, PF, arr, params, mem):  # the kernels' array names
    """params: pre-drawn model indices; mem[0]: the next one to use."""
    while True:
        status = K.advance(ST, FS, PI, PF, arr)
        if status != K.DECISION:
            return status
        i = int(mem[0])
        if i >= len(params):
            return NEED_MORE
        mem[0] = i + 1
        K.apply(ST, FS, PI, PF, int(params[i]))


class SeededRandom(RandomSelector):
    """Uniform over the models from NumPy's legacy generator seeded with ``seed`` (the original: 1).

    ``RandomState.randint(n, size=k)`` yields the same indices as ``k`` single calls, so the compiled loop
    draws them in blocks and both paths give the same episode.
    """

    def loop(self, view: DecisionView) -> CompiledForm:
        """Compiled form for ``Engine.run``."""
        self._n = int(view.n_models)
        params = self.rs.randint(self._n, size=_BLOCK).astype(np.float64)
        return _loop, params, np.zeros(1)

    def more(self, params: np.ndarray, mem: np.ndarray) -> None:
        """Refill the draws in place."""
        params[:] = self.rs.randint(self._n, size=len(params))
        mem[0] = 0
