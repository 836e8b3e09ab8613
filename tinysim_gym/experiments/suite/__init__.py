"""The TinySim benchmark suite: named tasks, a fixed evaluation protocol, and a leaderboard.

* :mod:`~tinysim_gym.experiments.suite.tasks`: the task registry, read from ``configs/suite/*.yaml``.
* :mod:`~tinysim_gym.experiments.suite.protocol`: evaluation seeds, the normalised score, episode scenarios.
* :mod:`~tinysim_gym.experiments.suite.leaderboard`: every policy on every task, one row each.
* :mod:`~tinysim_gym.experiments.suite.files`: the leaderboard as Markdown, CSV and PNG.
* :mod:`~tinysim_gym.experiments.suite.training`: one training cell per task and seed, on the pool.

See ``docs/suite.md``.
"""
