"""The simulation core: event kernels, battery discharge, arrivals and the engine that drives them.

It imports no gymnasium, SB3, baselines or agents: the env, the heuristics and the agents all sit on top.
Numba's on-disk cache is pointed at a source-keyed directory here, before any kernel of the project is
compiled or loaded: every compiled module of the project imports this room first. A broken cache never
fails a run (:func:`~tinysim_gym.core.numba_cache.tolerate_broken_cache`).
"""

from tinysim_gym.core.numba_cache import tolerate_broken_cache, use_source_keyed_cache

use_source_keyed_cache()
tolerate_broken_cache()
