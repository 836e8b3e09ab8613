"""The states a policy visits: episodes on fixed seeds, every observation, mask, action and counter kept.

One episode per seed runs in the batched env (sub-env ``i`` on ``seeds[i]``, the episode of
``tinysim simulate --seed``). What it records serves the export three ways: observations and actions to
check an export against its source and to fit distilled policies, the engine's counters at each decision
to check the C observation builder bit for bit, and each episode's metrics for its simulated accuracy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode

from tinysim_gym.core import kernels as K
from tinysim_gym.envs.vector_env import TinySimVectorEnv
from tinysim_gym.errors import TinySimError
from tinysim_gym.export.verify import OBS_RECORD

#: ``act(observations, masks) -> actions``: a batched greedy policy over the env's observations
Act = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Visited:
    """What the episodes went through.

    Attributes:
        obs: every observation a decision was taken on, float32 ``(N, d)``.
        masks: the action masks there, ``(N, n)``.
        actions: the actions taken.
        records: per episode, a reset marker (tick -1, the initial charge) and then the counters of every
            observation (:data:`~tinysim_gym.export.verify.OBS_RECORD`), the terminal one included.
        record_obs: the env's observation of each record (reset markers excluded).
        metrics: each episode's metrics, in seed order.
    """

    obs: np.ndarray
    masks: np.ndarray
    actions: np.ndarray
    records: np.ndarray
    record_obs: np.ndarray
    metrics: list[dict[str, Any]]

    @property
    def weighted_accuracy(self) -> float:
        """The mean weighted accuracy (%) of the episodes."""
        return float(np.mean([m["weighted_accuracy"] for m in self.metrics]))


def _counters(venv: TinySimVectorEnv, rows: np.ndarray) -> np.ndarray:
    st, fs = venv.ST[rows], venv.FS[rows]
    now = np.where(st[:, K.S_PHASE] == K.P_DECIDE, st[:, K.S_T],
                   np.where(st[:, K.S_END] >= 0, st[:, K.S_END], st[:, K.S_FREE]))
    out = np.zeros(len(rows), dtype=OBS_RECORD)
    out["tick"] = now
    out["remaining"] = fs[:, K.G_R]
    out["queue"] = st[:, K.S_Q]
    out["arrivals"] = st[:, K.S_ARR]
    out["dropped"] = st[:, K.S_DROP_OVF] + st[:, K.S_DROP_AFTER]
    out["last"] = st[:, K.S_LAST_ACTION]
    return out


def visit(act: Act, env_config: Mapping[str, Any], seeds: Sequence[int], max_steps: int = 10_000_000) -> Visited:
    """Run ``act`` for one episode per seed and record what it sees.

    Raises:
        TinySimError: no seeds, or episodes still running after ``max_steps`` steps.
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise TinySimError("seeds: at least one seed is needed")
    venv = TinySimVectorEnv(len(seeds), dict(env_config), autoreset_mode=AutoresetMode.NEXT_STEP)
    n = len(seeds)
    all_rows = np.arange(n)
    obs, _ = venv.reset(seed=seeds)
    # one row per step, one column per sub-env; a column's rows past its episode's end are not used
    recs, obs_rows, live_rows = [_counters(venv, all_rows)], [obs.copy()], [np.ones(n, dtype=bool)]
    seen_obs, seen_masks, seen_actions = [], [], []
    done = np.zeros(n, dtype=bool)
    metrics: list[dict[str, Any] | None] = [None] * n
    for _ in range(max_steps):
        if done.all():
            break
        masks = venv.action_masks()
        actions = np.asarray(act(obs, masks), dtype=np.int64).reshape(-1)
        live = ~done
        seen_obs.append(obs[live])
        seen_masks.append(masks[live])
        seen_actions.append(actions[live])
        obs, _, term, trunc, _ = venv.step(np.where(done, 0, actions))
        recs.append(_counters(venv, all_rows))
        obs_rows.append(obs.copy())
        live_rows.append(live)
        ended = (term | trunc) & ~done
        for i in np.flatnonzero(ended):
            metrics[i] = venv.engine(int(i)).metrics()
        done |= ended
    else:
        raise TinySimError(f"export: episodes still running after {max_steps} steps")
    rec2, obs2, live2 = np.stack(recs), np.stack(obs_rows), np.stack(live_rows)
    records, record_obs = [], []
    for i in range(n):
        marker = np.zeros(1, dtype=OBS_RECORD)
        marker["tick"] = -1
        marker["remaining"] = rec2["remaining"][0, i]
        records += [marker, rec2[live2[:, i], i]]
        record_obs.append(obs2[live2[:, i], i])
    venv.close()
    return Visited(np.concatenate(seen_obs), np.concatenate(seen_masks), np.concatenate(seen_actions),
                   np.concatenate(records), np.concatenate(record_obs), [m for m in metrics if m is not None])
