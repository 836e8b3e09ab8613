"""Many runs into one table: compare, sweeps, their pools, tables and figures.

* :mod:`~tinysim_gym.experiments.policies`: what a policy registry and an agent runner offer; the one
  parser for policy and seed lists. Policies arrive through these protocols or ``"module:attr"``
  strings (:mod:`~tinysim_gym.experiments.refs`): this room imports no package that holds policies.
* :mod:`~tinysim_gym.experiments.pool`: local processes or Ray, one interface.
* :mod:`~tinysim_gym.experiments.table`: the CSV writer, the printed table, JSON for rows.
* :mod:`~tinysim_gym.experiments.plots`: the figures of a comparison and of a sweep table.
* :mod:`~tinysim_gym.experiments.compare`: every baseline on one scenario, with the bound.
* :mod:`~tinysim_gym.experiments.sweep`: a grid of scenarios x policies x seeds into one table.
"""
