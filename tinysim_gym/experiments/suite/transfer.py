"""``tinysim suite transfer``: how a policy trained on one distribution does on devices it never saw.

A *held-out group* is a scenario file in ``configs/suite/heldout/`` whose ``randomize.device`` lists devices
(board x profile with their workload, battery, horizon, harvester) and whose ranges scale them: boards or
profiles no training distribution draws, or battery and interval scales outside the training ranges. A
*combination* is one device of a group; each is evaluated, as the suite evaluates a task, on the evaluation
seeds 1000.. (each seed draws the group's ranges for that device), with every heuristic, the DP oracle, the
upper bound and the agents, through :func:`~tinysim_gym.experiments.suite.leaderboard.run_suite` (one pool,
local or Ray).

The matrix: rows = training distributions (tasks), columns = held-out groups, a cell = the agent's mean
normalised score over the group's combinations (100 x (agent - random) / (oracle - random)) and its mean
points below each combination's oracle (``upper`` where a combination has no oracle row). The bar (issue
text): on at least :data:`WIN_SHARE` of the combinations the agent is at least as good as latency-first and
as the best heuristic, and on average within :data:`WITHIN_POINTS` points of the oracle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinysim_gym.atomic import write_files
from tinysim_gym.builtin import builtin_root, builtin_stems
from tinysim_gym.config import ScenarioConfig, device_scenarios, load_scenario
from tinysim_gym.config.suite import SuiteTaskConfig
from tinysim_gym.errors import ConfigError
from tinysim_gym.experiments.policies import AgentRunnerRef, RegistryRef
from tinysim_gym.experiments.pool import Pool
from tinysim_gym.experiments.suite.leaderboard import AgentEntry, run_suite
from tinysim_gym.experiments.table import markdown_table, rows_csv

#: where the built-in held-out groups live, under the configs root
HELDOUT_KIND = "suite/heldout"
#: the share of combinations on which the agent must match latency-first and the best heuristic
WIN_SHARE = 0.9
#: the most points the agent may lose to the oracle on average
WITHIN_POINTS = 2.0
#: the heuristic every combination is also compared with by name
LATENCY_FIRST = "latency-first"

COMBINATION_COLUMNS = (
    ("train", "trained on", "{}"), ("group", "held-out group", "{}"), ("combination", "combination", "{}"),
    ("agent", "agent %", "{:.2f}"), ("latency_first", "latency-first %", "{:.2f}"),
    ("best_heuristic", "best heuristic", "{}"), ("best_heuristic_mean", "its %", "{:.2f}"),
    ("oracle", "oracle %", "{:.2f}"), ("upper", "upper %", "{:.2f}"), ("normalised", "normalised", "{:.1f}"),
    ("reference", "reference", "{}"), ("below_reference", "points below it", "{:.2f}"),
    ("wins", ">= both heuristics", "{}"),
)
CELL_COLUMNS = (
    ("train", "trained on", "{}"), ("group", "held-out group", "{}"), ("combinations", "combinations", "{}"),
    ("normalised", "normalised", "{:.1f}"), ("below_reference", "points below the reference", "{:.2f}"),
    ("wins", "combinations >= both heuristics", "{}"),
)


def heldout_groups() -> list[str]:
    """The built-in held-out groups' names (``configs/suite/heldout/*.yaml``), sorted."""
    return builtin_stems(HELDOUT_KIND)


def load_group(ref: str) -> tuple[str, ScenarioConfig]:
    """A held-out group by built-in name or file path: ``(name, its scenario)``.

    Raises:
        ConfigError: an unknown name, or a group that draws no devices (one line).
    """
    if ref in heldout_groups():
        name, path = ref, builtin_root() / HELDOUT_KIND / f"{ref}.yaml"
    elif ref.endswith((".yaml", ".yml")):
        name, path = Path(ref).stem, Path(ref).expanduser()
    else:
        raise ConfigError(f"--groups: unknown held-out group {ref!r} (built-in: {', '.join(heldout_groups())}; "
                          "or a scenario file with randomize.device)")
    sc = load_scenario(str(path))
    if not sc.randomize.get("device"):
        raise ConfigError(f"held-out group {name!r}: expected randomize.device (the devices it holds out)")
    return name, sc


def combinations(name: str, group: ScenarioConfig) -> list[tuple[str, ScenarioConfig]]:
    """One scenario per device of ``group`` (its ranges still drawn per seed), named ``<group>-<k>``."""
    return device_scenarios(group, name)


def run_transfer(
    train: Sequence[SuiteTaskConfig],
    agents: Mapping[str, AgentEntry],
    groups: Sequence[str] | None = None,
    seeds: int = 5,
    pool: Pool | None = None,
    registry: RegistryRef | None = None,
    agent_runner: AgentRunnerRef | None = None,
    progress: bool = True,
    oracle: bool = True,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The transfer matrix's cells and the rows of every combination.

    Args:
        train: the training distributions (tasks); each needs an agent in ``agents``.
        agents: task name -> its agent (``agent:<name>`` with one model per training seed).
        groups: held-out group names or files (default: every built-in group).
        seeds: evaluation seeds per combination (``1000 ..``).
        pool: where the episodes and ladders run (default: local processes).
        registry: the heuristics (default: the ``baselines`` package).
        agent_runner: runs a saved agent's episode (default: ``agents:run_agent``).
        progress: a progress bar on stderr.
        oracle: False compares with ``upper`` (the LP bound) only, skipping the DP oracle's solves.

    Returns:
        ``(cells, combination rows)``: a cell per (training task, group), a row per (task, combination).
    """
    missing = [t.name for t in train if t.name not in agents]
    if missing:
        raise ConfigError(f"transfer: no agent for training task {missing[0]!r} (give --agents)")
    loaded = [load_group(g) for g in (groups or heldout_groups())]
    tasks: list[SuiteTaskConfig] = []
    scenarios: dict[str, ScenarioConfig] = {}
    where: dict[str, tuple[str, str, str]] = {}  # task name -> (training task, group, combination label)
    for t in train:
        for gname, group in loaded:
            for label, sc in combinations(gname, group):
                name = f"{t.name}-on-{sc.name}"
                tasks.append(t.model_copy(update={"name": name, "scenario": sc.name}))
                scenarios[name] = sc
                where[name] = (t.name, gname, label)
    entries = {name: [agents[where[name][0]]] for name in where}
    rows = run_suite(tasks, agents=entries, seeds=seeds, pool=pool, registry=registry, agent_runner=agent_runner,
                     progress=progress, scenarios=scenarios, oracle=oracle)
    combos = [combination_row(where[name], [r for r in rows if r["task"] == name]) for name in where]
    cells = [cell_row(t.name, gname, [c for c in combos if c["train"] == t.name and c["group"] == gname])
             for t in train for gname, _ in loaded]
    return cells, combos


def combination_row(where: tuple[str, str, str], rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One combination: the agent against latency-first, the best heuristic, the oracle and the bound."""
    by = {r["policy"]: r for r in rows}
    agent = next(r for r in rows if str(r["policy"]).startswith("agent"))
    heur = [r for r in rows if r["policy"] not in ("oracle", "upper", "random") and r["mean"] is not None
            and not str(r["policy"]).startswith("agent")]
    best = max(heur, key=lambda r: r["mean"])
    lat = by.get(LATENCY_FIRST, {}).get("mean")
    oracle, upper = by["oracle"]["mean"], by["upper"]["mean"]  # oracle None: not solved (the bound is the reference)
    reference, ref_name = (oracle, "oracle") if oracle is not None else (upper, "upper")
    a = agent["mean"]
    # a tie counts as a match: both run the same episodes, and a policy that picks the same models scores the same
    wins = a is not None and a >= best["mean"] - 1e-9 and (lat is None or a >= lat - 1e-9)
    return {"train": where[0], "group": where[1], "combination": where[2], "seed_count": agent["seed_count"],
            "agent": a, "latency_first": lat, "best_heuristic": best["policy"], "best_heuristic_mean": best["mean"],
            "oracle": oracle, "upper": upper, "normalised": agent["normalised"], "reference": ref_name,
            "below_reference": None if a is None else reference - a, "wins": "yes" if wins else "no"}


def cell_row(train: str, group: str, combos: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A cell of the matrix: means over the group's combinations, and how many match both heuristics."""
    norm = [c["normalised"] for c in combos if c["normalised"] is not None]
    below = [c["below_reference"] for c in combos if c["below_reference"] is not None]
    won = sum(c["wins"] == "yes" for c in combos)
    return {"train": train, "group": group, "combinations": len(combos),
            "normalised": float(np.mean(norm)) if norm else None,
            "below_reference": float(np.mean(below)) if below else None, "wins": f"{won}/{len(combos)}"}


def verdict(combos: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The bar over every combination: the share matching both heuristics, the mean points below the oracle."""
    n = len(combos)
    won = sum(c["wins"] == "yes" for c in combos)
    below = [c["below_reference"] for c in combos if c["below_reference"] is not None]
    mean_below = float(np.mean(below)) if below else None
    ok = n > 0 and won >= WIN_SHARE * n and mean_below is not None and mean_below <= WITHIN_POINTS
    return {"combinations": n, "wins": won, "win_share": won / n if n else None, "mean_below_reference": mean_below,
            "meets_bar": ok, "failing": [f"{c['group']}: {c['combination']}" for c in combos if c["wins"] != "yes"]}


def transfer_markdown(cells: Sequence[Mapping[str, Any]], combos: Sequence[Mapping[str, Any]]) -> str:
    """The matrix (rows = training distributions, columns = held-out groups), the bar, then every combination."""
    groups = list(dict.fromkeys(c["group"] for c in cells))
    matrix = []
    for train in dict.fromkeys(c["train"] for c in cells):
        row: dict[str, Any] = {"train": train}
        for c in cells:
            if c["train"] == train:
                row[c["group"]] = (f"{_num(c['normalised'], '{:.1f}')} ({_num(c['below_reference'], '{:.2f}')} "
                                   f"below, {c['wins']} >= heuristics)")
        matrix.append(row)
    cols = [("train", "trained on", "{}")] + [(g, g, "{}") for g in groups]
    v = verdict(combos)
    failing = ", ".join(v["failing"]) or "none"
    share = "-" if v["win_share"] is None else f"{100 * v['win_share']:.0f} %"
    bar = (f"Bar: >= latency-first and the best heuristic on >= {100 * WIN_SHARE:.0f} % of the combinations "
           f"(here {v['wins']}/{v['combinations']} = {share}) and on average within {WITHIN_POINTS:g} points of "
           f"the oracle, or of upper where it was not solved (here {_num(v['mean_below_reference'], '{:.2f}')}): "
           f"**{'met' if v['meets_bar'] else 'not met'}**. Failing combinations: {failing}.\n")
    refs = sorted({str(c["reference"]) for c in combos})
    return ("### Transfer matrix\n\nEach cell: mean normalised score over the group's combinations (0 random, 100 "
            f"the reference: {' or '.join(refs) or 'oracle'}), the mean points below each combination's reference, "
            "and the combinations where the agent matches latency-first and the best heuristic. `upper` (the LP "
            "bound) lies above the optimum, so points below it overstate the loss.\n\n"
            + markdown_table(matrix, cols) + "\n" + bar
            + "\n### Every combination\n\n" + markdown_table(combos, COMBINATION_COLUMNS))


def _num(v: float | None, fmt: str) -> str:
    return "-" if v is None else fmt.format(v)


def write_transfer(cells: Sequence[Mapping[str, Any]], combos: Sequence[Mapping[str, Any]], out: str | Path
                   ) -> list[Path]:
    """Write ``transfer.md``, ``transfer.csv`` (the cells) and ``combinations.csv`` under ``out`` (all or none)."""
    d = Path(out)
    return write_files({d / "transfer.md": transfer_markdown(cells, combos), d / "transfer.csv": rows_csv(cells),
                        d / "combinations.csv": rows_csv(combos)})
