"""Gymnasium ids for the TinySim environments (importing :mod:`tinysim_gym` runs this; safe to import twice).

=============================  ==========================  =====  =======================================
id (``tinysim/`` namespace)    scenario                    K      what it is
=============================  ==========================  =====  =======================================
``tinysim/TinySim-v0``         usps-l476-async-horizon     16     the generic env; ``scenario=`` picks any
``tinysim/TinySim-horizon-v0`` usps-l476-async-horizon     16     energy pacing: serve 50 s on 0.1 mAh
``tinysim/TinySim-load-v0``    usps-l476-async1            16     load: interval 1 ms, until depletion
``tinysim/TinySim-sync1-v0``   sync_1                      128    the published sync case (seed-compatible)
=============================  ==========================  =====  =======================================

Each id is also registered without the namespace (``TinySim-v0``, ...), the same way, so older code and
rl-baselines3-zoo command lines keep working. ``gym.spec(id).kwargs`` holds the whole default env config
(:meth:`tinysim_gym.envs.env.TinySimEnv.default_config`) with the id's scenario, its ``decisions_per_step``
K (so that a default episode is ~1.5k agent steps: a generic PPO run finishes many) and ``max_steps``
(:data:`MAX_STEPS`: the env truncates itself there and reports ``episode_metrics``; ``spec.max_episode_steps``
stays None because a ``TimeLimit`` wrapper's truncation is invisible to the env). Keyword arguments to
``gym.make`` override these; settings passed in a ``config=`` mapping are merged *under* them, so pass
settings as keywords there. ``tinysim train`` builds its envs from its own configs (each naming its
``decisions_per_step``), not from these ids.

The benchmark suite's tasks (``configs/suite/<task>.yaml``, see ``docs/suite.md``) are registered as
``tinysim/TinySim-<Task>-v0`` (and without the namespace) by :mod:`tinysim_gym.envs.suite_env`, whose entry
points read the task file when the env is made; ``gym.spec(id).kwargs`` holds just ``{"task": name}``.

Every id has ``vector_entry_point`` :class:`tinysim_gym.envs.vector_env.TinySimVectorEnv`, so
``gym.make_vec(id, num_envs=N)`` steps all copies in one compiled call (``vectorization_mode="sync"``
gives Gymnasium's ``SyncVectorEnv`` instead); both give the same infos.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from tinysim_gym.builtin import builtin_stems, suite_env_name
from tinysim_gym.envs.defaults import default_config

ENTRY_POINT = "tinysim_gym.envs.env:TinySimEnv"
VECTOR_ENTRY_POINT = "tinysim_gym.envs.vector_env:TinySimVectorEnv"
NAMESPACE = "tinysim"

#: agent steps per episode before the env truncates (a default episode ends well before it)
MAX_STEPS = 5000

#: name (without the namespace) -> the settings that make the id (merged over the default config)
VARIANTS: dict[str, dict[str, Any]] = {
    "TinySim-v0": {"scenario": "usps-l476-async-horizon", "decisions_per_step": 16},
    "TinySim-horizon-v0": {"scenario": "usps-l476-async-horizon", "decisions_per_step": 16},
    "TinySim-load-v0": {"scenario": "usps-l476-async1", "decisions_per_step": 16},
    # ~217k decisions over ~11 simulated minutes: 128 per step, and a frame every 4 s (~160 per episode)
    "TinySim-sync1-v0": {"scenario": "sync_1", "decisions_per_step": 128, "render_every_ms": 4000.0},
}


def registered_kwargs(name: str) -> dict[str, Any]:
    """The keyword arguments registered for ``name``: the default env config with the id's settings."""
    return {**default_config(), "max_steps": MAX_STEPS, **VARIANTS[name]}


#: every registered id (namespaced ids first, then the plain aliases) -> its keyword arguments
ENV_IDS: dict[str, dict[str, Any]] = {
    **{f"{NAMESPACE}/{name}": registered_kwargs(name) for name in VARIANTS},
    **{name: registered_kwargs(name) for name in VARIANTS},
}


SUITE_ENTRY_POINT = "tinysim_gym.envs.suite_env:make_task_env"
SUITE_VECTOR_ENTRY_POINT = "tinysim_gym.envs.suite_env:make_task_vector_env"


def register_suite() -> None:
    """Register every built-in task of the suite that is not registered yet (namespaced and plain)."""
    for task in builtin_stems("suite"):
        for env_id in (f"{NAMESPACE}/{suite_env_name(task)}", suite_env_name(task)):
            if env_id not in gym.registry:
                gym.register(id=env_id, entry_point=SUITE_ENTRY_POINT, vector_entry_point=SUITE_VECTOR_ENTRY_POINT,
                             kwargs={"task": task}, nondeterministic=False)


def register_envs() -> None:
    """Register every id in :data:`ENV_IDS` and every suite task that is not registered yet."""
    register_suite()
    for env_id, kwargs in ENV_IDS.items():
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point=ENTRY_POINT,
            vector_entry_point=VECTOR_ENTRY_POINT,
            kwargs=dict(kwargs),
            nondeterministic=False,
        )


register_envs()
