"""The simulation core: event kernels, battery discharge, arrivals and the engine that drives them.

It imports no gymnasium, SB3, baselines or agents: the env, the heuristics and the agents all sit on top.
The kernels are numba functions compiled on demand (:mod:`~tinysim_gym.core.jit`): importing the core does
not import numba, and a one-off run may not need it at all (:mod:`~tinysim_gym.core.aot`). When numba is
set up (:func:`~tinysim_gym.core.jit.materialize`), its on-disk cache is pointed at a source-keyed
directory first, a broken cache never fails a run
(:func:`~tinysim_gym.core.numba_cache.tolerate_broken_cache`), a cached function loads without numba's
lowering registries, and numba's start skips its import of scipy.linalg
(:func:`~tinysim_gym.core.numba_startup.load_cached_without_registries`).
"""

import sys

if "numba" in sys.modules:  # a process that imported numba already pays for it: its own numba code may call ours
    from tinysim_gym.core.jit import materialize

    materialize()
