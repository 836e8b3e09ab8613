"""Every policy on every task over the evaluation seeds: the leaderboard's rows.

Each (task, policy, seed) episode, and each task's optimality ladder (DP oracle, LP and hindsight bounds), is
one job on a :mod:`~tinysim_gym.experiments.pool` (local processes or Ray); results are keyed, so the table
never depends on the order jobs finish in, and both backends give identical rows.

Rows: ``task, policy, seed_count, mean, std, normalised, certified_gap`` (weighted accuracy %, mean and sample
standard deviation over the evaluation seeds; for an agent trained on several seeds, ``mean`` is the mean of
the seeds' means and ``std`` their standard deviation, ``train_seeds`` says how many). ``policy`` is a
heuristic's name, ``oracle``, ``upper`` (the smallest upper bound, no std) or ``agent:<name>``. A heuristic
that cannot run a task's device (one line from it: the original's fuzzy rules need its 10 models) keeps its
row with ``mean`` None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinysim_gym.config import ScenarioConfig, load_scenario
from tinysim_gym.config.suite import SuiteTaskConfig
from tinysim_gym.core.engine import Engine
from tinysim_gym.errors import TinySimError
from tinysim_gym.experiments.policies import AgentRunnerRef, Policy, RegistryRef, load_registry, parse_policies
from tinysim_gym.experiments.pool import LocalPool, Pool
from tinysim_gym.experiments.refs import portable
from tinysim_gym.experiments.suite.protocol import episode_scenario, eval_seeds, normalised
from tinysim_gym.experiments.table import canonical_json
from tinysim_gym.optimal.ladder import ladder
from tinysim_gym.optimal.lp import bound
from tinysim_gym.progress import Progress

#: the columns every leaderboard row has, in order
COLUMNS = ("task", "policy", "seed_count", "mean", "std", "normalised", "certified_gap", "train_seeds")


@dataclass(frozen=True)
class AgentEntry:
    """An agent of the leaderboard: its row label (``agent:<name>``) and one saved model per training seed."""

    label: str
    refs: tuple[str, ...]


#: the second part of a ladder job's key: a tuple, so that no policy label (a string; there is a heuristic
#: named "ladder") can take it
LADDER_KEY = ("ladder",)

#: one job: (kind, key, scenario, policy or None, seeds); kind "episode", "ladder" or "ladder+hindsight"
Job = tuple[str, tuple[Any, ...], ScenarioConfig, Policy | None, tuple[int, ...]]


def _run_job(job: Job) -> tuple[tuple[Any, ...], Any]:
    """One job in a worker: an episode's weighted accuracy, or a ladder (its oracle per seed and bounds)."""
    kind, key, sc, policy, seeds = job
    if kind == "ladder:bound":  # no DP oracle: the LP bound alone, once for every seed of the scenario
        return key, {"oracle_runs": None, "upper": float(bound(sc).weighted_accuracy), "runs": len(seeds)}
    if kind.startswith("ladder"):
        lad = ladder(sc, list(seeds), observed=False, hindsight=kind == "ladder+hindsight")
        return key, {"oracle_runs": lad["oracle_runs"], "upper": lad["upper"]}
    assert policy is not None
    seed = seeds[0]
    if policy.agent is not None:
        return key, float(policy.run_agent(sc, seed)["weighted_accuracy"])
    try:
        selector = policy.selector(None)
        return key, float(Engine(sc, chunk=1 << 16).run(selector, seed=seed)["weighted_accuracy"])
    except TinySimError:
        return key, None  # a heuristic that does not fit the device (the original's fuzzy rules need 10 models)


def _stats(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation; None when a value is missing (a policy that cannot run the task)."""
    if any(v is None for v in values):
        return None, None
    mean = float(np.mean(values))
    return mean, (float(np.std(values, ddof=1)) if len(values) > 1 else None)


def run_suite(
    tasks: Sequence[SuiteTaskConfig],
    policies: Sequence[str] | None = None,
    agents: Mapping[str, Sequence[AgentEntry]] | None = None,
    seeds: int = 20,
    pool: Pool | None = None,
    registry: RegistryRef | None = None,
    agent_runner: AgentRunnerRef | None = None,
    progress: bool = True,
    hindsight: bool = False,
    scenarios: Mapping[str, ScenarioConfig] | None = None,
    oracle: bool = True,
) -> list[dict[str, Any]]:
    """The leaderboard rows of ``tasks``: per task, each heuristic, ``oracle``, ``upper``, then the agents.

    Args:
        tasks: the tasks (:func:`~tinysim_gym.experiments.suite.tasks.suite_tasks`).
        policies: heuristic names (default: every one of the registry except ``reference``, which is the
            original's fixed model, and the oracles, which get their own rows).
        agents: task name -> its agents (tasks without an entry get none).
        seeds: the number of evaluation seeds (``1000 ..``).
        pool: where jobs run (default: local processes, closed at the end).
        registry: the heuristics (default: the ``baselines`` package).
        agent_runner: runs a saved agent's episode (default: ``agents:run_agent``).
        progress: a progress bar on stderr.
        hindsight: tighten ``upper`` with the hindsight bound (an offline DP over every tick of every seed:
            about 40 s per seed of a 50 s horizon); without it ``upper`` is the LP bound, also valid.
        scenarios: task name -> its scenario, in place of loading the task's ``scenario`` reference.
        oracle: False skips the DP oracle (minutes per solve on long, slow-model devices): ``oracle`` rows
            are then None and ``normalised`` is taken against ``upper`` (the LP bound, above the optimum).

    Raises:
        TinySimError: an unknown policy, or a task whose oracle cannot be solved (one line).
    """
    seed_list = eval_seeds(seeds)
    reg = load_registry(registry)
    names = list(policies) if policies else [n for n in reg.names() if n not in ("reference", "random")]
    if "random" not in names:
        names.append("random")  # the normalised score's zero
    plist = parse_policies([n for n in names if n not in ("oracle", "upper")], registry=registry, allow_agents=False)
    runner = portable(agent_runner)
    jobs: list[Job] = []
    given = dict(scenarios or {})
    for t in tasks:
        template = given[t.name] if t.name in given else load_scenario(t.scenario)
        per_seed = {s: episode_scenario(template, s) for s in seed_list}
        entries = list((agents or {}).get(t.name, ()))
        for s in seed_list:
            sc = per_seed[s]
            jobs += [("episode", (t.name, p.label, 0, s), sc, p, (s,)) for p in plist]
            for e in entries:
                for j, ref in enumerate(e.refs):
                    pol = Policy(label=e.label, agent=ref, source=runner)
                    jobs.append(("episode", (t.name, e.label, j, s), sc, pol, (s,)))
        # one ladder per distinct episode scenario: a randomised task draws a few devices many times, and
        # each device's DP oracle is solved once
        by_device: dict[str, list[int]] = {}
        for s in seed_list:
            by_device.setdefault(canonical_json(per_seed[s].model_dump(mode="json")), []).append(s)
        groups = [(g, tuple(ss)) for g, ss in enumerate(by_device.values())]
        kind = "ladder:bound" if not oracle else "ladder+hindsight" if hindsight else "ladder"
        jobs += [(kind, (t.name, LADDER_KEY, g, 0), per_seed[g_seeds[0]], None, g_seeds) for g, g_seeds in groups]
    results: dict[tuple[Any, ...], Any] = {}
    own = pool is None
    runner_pool: Pool = LocalPool() if pool is None else pool
    bar = Progress(f"suite: {len(tasks)} tasks", len(jobs), unit="job", show=progress, leave=True)
    try:
        # longest first (the ladders), so the pool's last jobs are short ones
        order = sorted(jobs, key=lambda j: not j[0].startswith("ladder"))
        finished = runner_pool.imap(_run_job, order)
        with bar:
            bar.update(0)
            for key, value in finished:
                results[key] = value
                bar.advance(str(key[0]))
    finally:
        if own:
            runner_pool.close()
    rows: list[dict[str, Any]] = []
    for t in tasks:
        rows += _task_rows(t, plist, list((agents or {}).get(t.name, ())), seed_list, results)
    return rows


def _task_rows(t: SuiteTaskConfig, plist: Sequence[Policy], entries: Sequence[AgentEntry], seeds: Sequence[int],
               results: Mapping[tuple[Any, ...], Any]) -> list[dict[str, Any]]:
    # in group order, never in the order the jobs finished: sums of floats depend on their order
    ladders = [results[k] for k in sorted(k for k in results if k[0] == t.name and k[1] == LADDER_KEY)]
    if not ladders:
        raise TinySimError(f"task {t.name!r}: its oracle did not run")
    solved = all(lad["oracle_runs"] is not None for lad in ladders)
    oracle, oracle_std = _stats([x for lad in ladders for x in lad["oracle_runs"]]) if solved else (None, None)
    # each device's bound counts once per seed that drew it
    upper = float(sum(lad["upper"] * (len(lad["oracle_runs"]) if solved else lad["runs"]) for lad in ladders)
                  / len(seeds))
    gap = None if oracle is None else upper - oracle
    reference = upper if oracle is None else oracle
    random = _stats([results[(t.name, "random", 0, s)] for s in seeds])[0]
    rows: list[dict[str, Any]] = []

    def add(policy: str, mean: float | None, std: float | None, train_seeds: int | None = None) -> None:
        rows.append({"task": t.name, "policy": policy, "seed_count": len(seeds), "mean": mean, "std": std,
                     "normalised": normalised(mean, random, reference), "certified_gap": gap,
                     "train_seeds": train_seeds})

    for p in plist:
        add(p.label, *_stats([results[(t.name, p.label, 0, s)] for s in seeds]))
    add("oracle", oracle, oracle_std)
    add("upper", upper, None)
    for e in entries:
        means = [float(np.mean([results[(t.name, e.label, j, s)] for s in seeds])) for j in range(len(e.refs))]
        if len(means) > 1:
            add(e.label, *_stats(means), train_seeds=len(means))
        else:
            add(e.label, *_stats([results[(t.name, e.label, 0, s)] for s in seeds]), train_seeds=1)
    return rows
