"""The simulation core: event kernels, battery discharge, arrivals and the engine that drives them.

It imports no gymnasium, SB3, baselines or agents: the env, the heuristics and the agents all sit on top.
Numba's on-disk cache is pointed at a source-keyed directory here, before any kernel of the project is
compiled or loaded: every compiled module of the project imports this room first. A broken cache never
fails a run (:func:`~tinysim_gym.core.numba_cache.tolerate_broken_cache`), a cached function loads without
numba's lowering registries, and numba's start skips its import of scipy.linalg
(:func:`~tinysim_gym.core.numba_startup.load_cached_without_registries`).
"""

from tinysim_gym.core.numba_cache import tolerate_broken_cache, use_source_keyed_cache
from tinysim_gym.core.numba_startup import load_cached_without_registries

use_source_keyed_cache()
load_cached_without_registries()  # before the tolerant wrapper, which wraps the load it finds
tolerate_broken_cache()
