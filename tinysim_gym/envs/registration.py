"""Gymnasium ids for the TinySim environments (importing :mod:`tinysim_gym` runs this; safe to import twice).

==================  ==============================  ===================================================
id                  scenario                        what it is
==================  ==============================  ===================================================
TinySim-v0          usps-l476-async-horizon         the generic env; ``scenario=`` picks any scenario
TinySim-horizon-v0  usps-l476-async-horizon         energy pacing: serve 50 s on 0.1 mAh
TinySim-load-v0     usps-l476-async1                load: interval 1 ms, until depletion
TinySim-sync1-v0    sync_1                          the published sync case (seed-compatible)
==================  ==============================  ===================================================

Every id has ``vector_entry_point`` :class:`tinysim_gym.envs.vector_env.TinySimVectorEnv`, so
``gym.make_vec(id, num_envs=N)`` steps all copies in one compiled call (``vectorization_mode="sync"``
gives Gymnasium's ``SyncVectorEnv`` instead).
"""

from __future__ import annotations

import gymnasium as gym

ENTRY_POINT = "tinysim_gym.envs.env:TinySimEnv"
VECTOR_ENTRY_POINT = "tinysim_gym.envs.vector_env:TinySimVectorEnv"

#: id -> keyword arguments of the registered env
ENV_IDS: dict[str, dict[str, str]] = {
    "TinySim-v0": {},
    "TinySim-horizon-v0": {"scenario": "usps-l476-async-horizon"},
    "TinySim-load-v0": {"scenario": "usps-l476-async1"},
    "TinySim-sync1-v0": {"scenario": "sync_1"},
}


def register_envs() -> None:
    """Register every id in :data:`ENV_IDS` that is not registered yet."""
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
