"""The suite's evaluation protocol: held-out seeds, the episode of each seed, the normalised score.

Evaluation seeds are ``1000 .. 1000 + N - 1`` (``N`` = :data:`DEFAULT_EVAL_SEEDS` by default). Training never
starts an episode from them: ``tinysim suite train`` trains seed ``k`` on sub-env seeds ``10000 + 1000 k + i``
and evaluates during training on seeds 100..102 (the ``agents`` defaults; a test checks the split).
On a task whose scenario randomises (``randomize:``), evaluation seed ``s`` first draws the episode's concrete
scenario from ``numpy.random.default_rng(s)``; every policy, the oracle and the bounds then see that same
scenario and seed.

Normalised score = ``100 x (policy - random) / (oracle - random)``, with each term the mean weighted accuracy
over the evaluation seeds: 0 is the uniformly random policy, 100 the DP oracle (an achievable policy, so a
score above 100 is possible: the optimum lies in ``[oracle, upper]`` and ``certified_gap = upper - oracle``).
"""

from __future__ import annotations

import math

import numpy as np

from tinysim_gym.config import ScenarioConfig, sample_scenario
from tinysim_gym.errors import TinySimError

EVAL_SEED_START = 1000
DEFAULT_EVAL_SEEDS = 20
DEFAULT_TRAIN_SEEDS = 3
#: the most evaluation seeds: they must stay below the first training seed (10000)
MAX_EVAL_SEEDS = 9000


def eval_seeds(n: int = DEFAULT_EVAL_SEEDS) -> list[int]:
    """The evaluation seeds ``1000 .. 1000 + n - 1``.

    Raises:
        TinySimError: ``n`` outside 1..9000.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_EVAL_SEEDS:
        raise TinySimError(f"--seeds: expected an integer in 1..{MAX_EVAL_SEEDS} (evaluation seeds), got {n!r}")
    return list(range(EVAL_SEED_START, EVAL_SEED_START + n))


def episode_scenario(template: ScenarioConfig, seed: int) -> ScenarioConfig:
    """The concrete scenario of evaluation seed ``seed`` (the template itself unless it randomises)."""
    if not template.randomize:
        return template
    return sample_scenario(template, np.random.default_rng(seed))


def normalised(score: float | None, random: float | None, oracle: float | None) -> float | None:
    """``100 (score - random) / (oracle - random)``; None when a term is missing or the oracle is not above random."""
    if score is None or random is None or oracle is None:
        return None
    span = oracle - random
    if not math.isfinite(span) or span <= 1e-12:
        return None
    return 100.0 * (score - random) / span
