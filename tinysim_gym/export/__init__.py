"""Export of policies to dependency-free C99 for the microcontroller itself.

``observation`` writes the env's observation builder in C (bit for bit), ``mlp`` an SB3 MLP policy in
float32 or int8, ``distill`` a decision tree or lookup table fitted to an agent's states, ``heuristics``
the on-device heuristics, ``bundle`` puts one of them and the builder into ``tinysim_policy.h``,
``tinysim_policy.c`` and ``manifest.json``, and ``cycles`` estimates its cost per decision. This room
imports ``core``, ``envs`` and ``config`` only: callers hand it plain numbers (weights, parameters).
"""
