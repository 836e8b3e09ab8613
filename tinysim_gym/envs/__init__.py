"""Gymnasium glue: the env kernels and settings, the single env, the batched vector env and the registered ids.

:mod:`~tinysim_gym.envs.kernels` (compiled per-decision extras), :mod:`~tinysim_gym.envs.defaults` (the
default env config), :mod:`~tinysim_gym.envs.settings` (the validated env config),
:mod:`~tinysim_gym.envs.actions` (actions and mask inputs), :mod:`~tinysim_gym.envs.env` (:class:`TinySimEnv`),
:mod:`~tinysim_gym.envs.vector_env` (:class:`TinySimVectorEnv`), :mod:`~tinysim_gym.envs.infos` (the batched
env's infos), :mod:`~tinysim_gym.envs.render` (the dashboard: ``human`` and ``rgb_array`` frames; matplotlib
loaded on first use) and :mod:`~tinysim_gym.envs.registration` (the ids, as string entry points). This room
imports only the core and the config; the SB3 adapter lives in ``agents.vec_env``.
"""
