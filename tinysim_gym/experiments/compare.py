"""Run every baseline on one scenario, side by side with the optimal-policy bound.

:func:`compare` runs each (policy, seed) pair as one task on a :mod:`~tinysim_gym.experiments.pool`, shows
a progress bar on stderr, and returns one row per policy (the bound last). The rows are saved and shown by
:mod:`~tinysim_gym.experiments.table` (CSV, text, JSON) and :mod:`~tinysim_gym.experiments.plots` (PNG).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from tinysim_gym.config import ScenarioConfig, load_scenario
from tinysim_gym.config.loading import require_concrete
from tinysim_gym.core.engine import Engine
from tinysim_gym.errors import TinySimError
from tinysim_gym.experiments.policies import Policy, RegistryRef, load_registry, parse_policies, parse_seeds
from tinysim_gym.experiments.pool import LocalPool, Pool
from tinysim_gym.optimal.ladder import certificate
from tinysim_gym.optimal.lp import bound
from tinysim_gym.optimal.oracle import solve
from tinysim_gym.progress import Progress

__all__ = ["Rows", "compare", "mean_row"]


class Rows(list):
    """The rows of a comparison (a plain list of dicts for JSON), plus what the plots need.

    Attributes:
        scenario: the scenario compared.
        usage: policy -> model usage over time of its first seed (``{"time_ms": [...], "counts": [[...]]}``,
            cumulative inferences per model, and ``"model_ids"``), for the policy ``usage_policy``.
        usage_policy: the policy whose usage was recorded (``None``: none).
        elapsed_s: wall time of the comparison.
        certificate: with ``oracle=True``, the ladder of the oracle row
            (:func:`~tinysim_gym.optimal.ladder.certificate`: ``lp``, ``hindsight``, ``oracle``, ``upper``,
            ``certified_gap``), or ``{"oracle_note": why}`` where the oracle does not apply; else None.
    """

    scenario: ScenarioConfig | None = None
    usage: dict[str, dict[str, Any]]
    usage_policy: str | None = None
    elapsed_s: float = 0.0
    certificate: dict[str, Any] | None = None
    skipped: dict[str, str]

    def __init__(self, rows: Iterable[dict[str, Any]] = ()) -> None:
        super().__init__(rows)
        self.usage = {}
        self.skipped = {}


def refusals(scenario: ScenarioConfig, policies: Sequence[Policy]) -> dict[str, str]:
    """The policies whose selector refuses the scenario (a fuzzy rule base needs more models), and why.

    Each selector's ``reset`` sees a fresh engine, as :meth:`Engine.run` shows it one before the episode.
    """
    engine = Engine(scenario)
    out: dict[str, str] = {}
    for p in policies:
        reset = getattr(p.selector(None), "reset", None)
        try:
            if reset is not None:
                reset(engine)
        except TinySimError as exc:
            out[p.label] = str(exc)
    return out


#: one episode of a comparison: (scenario, policy, seed, usage points; 0: metrics only)
Task = tuple[ScenarioConfig, Policy, int, int]
#: what a task returns: (metrics, usage timeline or None, seconds)
TaskResult = tuple[dict[str, Any], dict[str, Any] | None, float]


def _run_task(task: Task) -> TaskResult:
    """One episode (in a worker): metrics, optional usage timeline, seconds."""
    scenario, policy, seed, points = task
    t0 = time.perf_counter()
    chunk = 1 << 16
    if points > 0:
        chunk = int(min(1 << 16, max(64, _expected_decisions(scenario) // points)))
    engine = Engine(scenario, chunk=chunk)
    selector = policy.selector(None)
    usage: dict[str, Any] | None = None
    progress = None
    if points > 0:
        times: list[float] = [0.0]
        counts: list[list[int]] = [[0] * engine.n_models]

        def progress(_fraction: float) -> None:
            times.append(engine.time_ms)
            counts.append([int(c) for c in engine.model_counts])

    metrics = engine.run(selector, seed=seed, progress=progress)
    if points > 0:
        times[-1] = metrics["operating_time_ms"]
        usage = {"time_ms": times, "counts": counts, "model_ids": list(engine.model_ids)}
    return metrics, usage, time.perf_counter() - t0


def _run_numbered(item: tuple[int, Task]) -> tuple[int, TaskResult]:
    """A task and its number, so that results finishing in any order find their task again."""
    return item[0], _run_task(item[1])


def _expected_decisions(scenario: ScenarioConfig) -> int:
    try:
        b = bound(scenario)
        return int(max(b.arrivals, 1.0))
    except TinySimError:
        return 1 << 16


def _presolve(sc: ScenarioConfig) -> str | None:
    """Solve the oracle once (into the disk cache the workers read); why it does not apply, or None."""
    try:
        solve(sc)
    except TinySimError as exc:
        return str(exc)
    return None


def _certify(sc: ScenarioConfig, seeds: Sequence[int], rows: Rows) -> dict[str, Any]:
    """The oracle row's certificate; its figures are added to the bound row (last)."""
    wa = next(r["weighted_accuracy"] for r in rows if r["policy"] == "oracle")
    cert = certificate(sc, seeds, float(wa))
    rows[-1].update({k: cert[k] for k in ("hindsight", "upper", "oracle", "certified_gap")})
    return cert


def mean_row(label: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Average the runs' metrics: numbers by their mean, model counts per model, other values if equal.

    ``seed`` becomes the list of seeds (a single seed stays as it is).
    """
    row: dict[str, Any] = {"policy": label}
    for key in runs[0]:
        vals = [r[key] for r in runs]
        if key == "seed":
            row[key] = vals[0] if len(runs) == 1 else vals
        elif key == "model_counts":
            row[key] = {mid: float(np.mean([v[mid] for v in vals])) for mid in vals[0]}
            if len(runs) == 1:
                row[key] = dict(vals[0])
        elif all(isinstance(v, bool) for v in vals) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in vals
        ):
            uniq = list(dict.fromkeys(vals))
            row[key] = uniq[0] if len(uniq) == 1 else uniq
        elif len(runs) == 1:
            row[key] = vals[0]
        else:
            row[key] = float(np.mean(vals))
    row["seeds"] = len(runs)
    if len(runs) > 1:
        row["weighted_accuracy_std"] = float(np.std([r["weighted_accuracy"] for r in runs], ddof=1))
    return row


def compare(
    scenario: ScenarioConfig | str,
    policies: Any = None,
    seeds: int | Sequence[int] = 1,
    processes: int | None = None,
    progress: bool = True,
    usage_policy: str | None = "auto",
    usage_points: int = 200,
    pool: Pool | None = None,
    registry: RegistryRef | None = None,
    oracle: bool = False,
) -> Rows:
    """Run every baseline on ``scenario`` and return one row per policy, the bound last.

    Args:
        scenario: a scenario config, built-in name or path.
        policies: ``None`` (every policy of the registry that can run the scenario: the others are left out
            and named in ``Rows.skipped``), a list of names, or a mapping ``label -> params``
            (``params`` may hold ``"policy": name`` to run one baseline under several labels); any list
            :func:`~tinysim_gym.experiments.policies.parse_policies` accepts, saved agents aside.
        seeds: number of seeds (``0 .. seeds-1``) or an explicit list. A seed-compatible scenario replays
            the original's stream whatever the seed, so it runs one seed.
        processes: worker processes (default: the CPU count, at most the number of tasks); 1 runs in this
            process.
        progress: show a progress bar on stderr.
        usage_policy: the policy whose model usage over time is recorded for
            :func:`~tinysim_gym.experiments.plots.write_plots`, from one extra episode of its first seed
            (``"auto"``: ``budget`` when compared, else the most accurate; ``None``: none).
        usage_points: about how many points that timeline gets (0: none).
        pool: reuse an existing pool (``processes`` is then ignored; the caller closes it).
        registry: the registry of heuristics (default: the baselines; see
            :mod:`~tinysim_gym.experiments.policies`).
        oracle: also run the DP oracle (row ``oracle``, solved once here, then read from the disk cache by
            the workers) and certify it: the bound row gains ``hindsight``, ``upper``, ``oracle`` and
            ``certified_gap`` (:attr:`Rows.certificate`). Skipped where the oracle does not apply (a trace
            workload, the seed-compatible sync mode): the bound row gains ``oracle_note`` saying why.

    Returns:
        :class:`Rows`, a list of dicts. Each row has ``policy`` and every key of ``Engine.metrics()``;
        with several seeds a numeric value is the **mean over seeds** (the weighted accuracy too: the mean
        of each seed's weighted accuracy, not a pooled ratio; its sample standard deviation is
        ``weighted_accuracy_std``), ``model_counts`` holds the mean count per model, any other value is
        kept when all seeds agree and becomes the list of distinct values otherwise, and ``seeds`` says
        how many runs were averaged. The last row is the bound (``policy = "bound"``,
        :meth:`~tinysim_gym.optimal.lp.BoundResult.as_row`).

    Raises:
        TinySimError: unknown policy or bad parameters, or a ``randomize:`` scenario (checked before anything
            runs: its episodes are draws, so one table of it would describe none of them).
    """
    t_start = time.perf_counter()
    sc = require_concrete(scenario if isinstance(scenario, ScenarioConfig) else load_scenario(scenario), "compare")
    every = policies is None
    if policies is None:
        policies = load_registry(registry).names()
    plist = parse_policies(policies, registry=registry, allow_agents=False)
    skipped = refusals(sc, plist) if every else {}  # every policy: those that cannot run this one are left out
    plist = [p for p in plist if p.label not in skipped]
    if not plist:
        raise TinySimError(f"policies: none can run scenario {sc.name!r} ({'; '.join(skipped.values())})")
    seed_list = parse_seeds(seeds)
    if sc.seed_compat:
        seed_list = seed_list[:1]
    note = _presolve(sc) if oracle else None  # after every argument is checked: a solve can take a minute
    if oracle and note is None and "oracle" not in [p.label for p in plist]:
        plist += parse_policies(["oracle"], registry=registry, allow_agents=False)
    elif note is not None:
        plist = [p for p in plist if p.label != "oracle"]  # it cannot run here: the bound row says why
    labels = [p.label for p in plist]
    if usage_policy not in (None, "auto") and usage_policy not in labels:
        raise TinySimError(f"usage_policy: {usage_policy!r} is not compared (allowed: {', '.join(labels)})")
    if usage_policy == "auto" and "budget" in labels:
        usage_policy = "budget"
    by_label = {p.label: p for p in plist}
    # the timeline comes from its own episode with small arrival chunks, so the metrics never depend on it
    tasks: list[Task] = [(sc, p, seed, 0) for p in plist for seed in seed_list]
    if usage_policy not in (None, "auto") and usage_points > 0:
        tasks.append((sc, by_label[usage_policy], seed_list[0], usage_points))
    results: dict[tuple[str, int], dict[str, Any]] = {}
    usage: dict[str, dict[str, Any]] = {}
    n_proc = processes if processes is not None else (os.cpu_count() or 1)
    n_proc = max(1, min(n_proc, len(tasks)))
    late = usage_policy == "auto" and usage_points > 0
    own = pool is None
    runner: Pool = LocalPool(n_proc) if pool is None else pool
    bar = Progress(f"{sc.name}: {len(plist)} policies x {len(seed_list)} seeds", len(tasks) + (1 if late else 0),
                   unit="run", show=progress, leave=True)

    def done(task: Task, out: TaskResult) -> None:
        _, policy, seed, points = task
        if points:
            usage[policy.label] = out[1] or {}
        else:
            results[(policy.label, seed)] = out[0]
        bar.advance(policy.label)

    try:
        # the pool starts its workers before the progress bar starts a thread (a fork copies no thread)
        finished = runner.imap(_run_numbered, list(enumerate(tasks)))
        with bar:
            bar.update(0)  # show the bar now, not when the first task ends
            for i, out in finished:
                done(tasks[i], out)
            rows = Rows(mean_row(p.label, [results[(p.label, s)] for s in seed_list]) for p in plist)
            if late and rows:
                usage_policy = max(rows, key=lambda r: r["weighted_accuracy"])["policy"]
                task = (sc, by_label[usage_policy], seed_list[0], usage_points)
                done(task, _run_task(task))
    finally:
        if own:
            runner.close()
    rows.append(bound(sc).as_row())
    if oracle:
        rows.certificate = {"oracle_note": note} if note else _certify(sc, seed_list, rows)
        if note:
            rows[-1]["oracle_note"] = note
    rows.scenario = sc
    rows.usage = usage
    rows.skipped = skipped
    rows.usage_policy = usage_policy if usage_policy != "auto" else None
    rows.elapsed_s = time.perf_counter() - t_start
    return rows
