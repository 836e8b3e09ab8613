"""``tinysim suite``: the benchmark's tasks, their leaderboard, and training an agent on each.

Examples::

    tinysim suite list                                   # the tasks, easy to hard
    tinysim suite run --agents pretrained --out results/suite   # every policy on 20 held-out seeds
    tinysim suite run --tasks pacing,load --policies budget,random --seeds 3 --json
    tinysim suite train --algo ppo --seeds 3 --out runs/suite   # every task x seed (one TensorBoard parent)
    tinysim suite run --agents runs/suite                # the agents trained there (mean +/- std over seeds)
    tinysim suite transfer --train generalist --out results/generalist   # held-out boards, profiles, ranges

Evaluation seeds are 1000..1000+N-1, never used in training; normalised = 100 x (policy - random) /
(oracle - random); see docs/suite.md.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from tinysim_gym.cli.common import add_pool_args, dumps
from tinysim_gym.cli.sweep import AGENT_RUNNER, SHIPPED_PACKAGES
from tinysim_gym.cli.transfer import add_transfer
from tinysim_gym.errors import TinySimError


def _names(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def add_parser(sub: Any) -> None:
    """Register the subcommand and its three actions."""
    p = sub.add_parser("suite", help="the benchmark suite: tasks, leaderboard, training", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    acts = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    acts.required = True
    ls = acts.add_parser("list", help="the tasks, easy to hard")
    ls.add_argument("--json", action="store_true", help="print [{task, env_id, scenario, description}, ...]")
    ls.set_defaults(func=run_list)

    rn = acts.add_parser("run", help="the leaderboard: every policy on every task, held-out seeds")
    rn.add_argument("--tasks", metavar="A,B", help="comma-separated tasks (names or task files; default: all)")
    rn.add_argument("--policies", metavar="A,B", help="comma-separated heuristics (default: all but reference)")
    rn.add_argument("--agents", metavar="DIR|pretrained",
                    help="add agents: `pretrained` (shipped with the package) or a `suite train` output directory")
    rn.add_argument("--seeds", type=int, default=20, metavar="N", help="evaluation seeds 1000..1000+N-1 (default 20)")
    add_pool_args(rn)
    rn.add_argument("--hindsight", action="store_true",
                    help="tighten upper with the hindsight bound (slow: ~40 s per seed of a 50 s task; default: LP)")
    rn.add_argument("--out", metavar="DIR", help="write leaderboard.md, .csv and .png here")
    rn.add_argument("--json", action="store_true", help="print the rows as JSON")
    rn.set_defaults(func=run_board)

    tr = acts.add_parser("train", help="train an agent on every task x seed")
    tr.add_argument("--algo", default="ppo", help="ppo, a2c, dqn or maskable_ppo (default ppo)")
    tr.add_argument("--tasks", metavar="A,B", help="comma-separated tasks (default: all)")
    tr.add_argument("--seeds", type=int, default=3, metavar="N", help="training seeds 0..N-1 (default 3)")
    tr.add_argument("--timesteps", type=int, metavar="N", help="steps per cell (default: the task's)")
    add_pool_args(tr, "cells trained at once")
    tr.add_argument("--out", default="runs/suite", metavar="DIR", help="parent of the runs (default runs/suite)")
    tr.add_argument("--json", action="store_true", help="print one JSON object per cell")
    tr.set_defaults(func=run_train)
    add_transfer(acts)


def run_list(args: argparse.Namespace) -> int:
    """Print the tasks."""
    from tinysim_gym.experiments.suite.tasks import suite_tasks, task_rows

    rows = task_rows(suite_tasks())
    if args.json:
        print(dumps([{k: r[k] for k in ("task", "env_id", "scenario", "description")} for r in rows]))
        return 0
    width = max(len(r["task"]) for r in rows)
    for r in rows:
        print(f"{r['task']:<{width}}  {r['env_id']:<34} level {r['level']}  {r['description']}")
    return 0


def _agents(ref: str | None, tasks: list[Any]) -> dict[str, Any]:
    if ref is None:
        return {}
    from tinysim_gym.experiments.suite.leaderboard import AgentEntry

    if ref == "pretrained":
        from agents.pretrained import pretrained_tasks

        have = set(pretrained_tasks())
        return {t.name: [AgentEntry("agent:ppo", (f"pretrained:{t.name}",))] for t in tasks if t.name in have}
    from pathlib import Path

    from tinysim_gym.experiments.suite.training import find_agents

    if not Path(ref).is_dir():
        raise TinySimError(f"--agents: expected `pretrained` or a directory written by `tinysim suite train`, "
                           f"got {ref!r}")
    found = find_agents(ref, tasks)
    if not found:
        raise TinySimError(f"--agents: no trained agent under {ref!r} "
                           "(expected <task>_s<k>/*/ppo_*/best_model.agent.json)")
    return found


def run_board(args: argparse.Namespace) -> int:
    """Run the leaderboard, print it, and write its files."""
    import baselines
    from tinysim_gym.experiments.pool import make_pool
    from tinysim_gym.experiments.suite.files import LEADERBOARD_COLUMNS, write_leaderboard
    from tinysim_gym.experiments.suite.leaderboard import run_suite
    from tinysim_gym.experiments.suite.protocol import eval_seeds
    from tinysim_gym.experiments.suite.tasks import suite_tasks
    from tinysim_gym.experiments.table import markdown_table, rows_json

    eval_seeds(args.seeds)
    tasks = suite_tasks(_names(args.tasks))
    agents = _agents(args.agents, tasks)
    pool = make_pool(args.backend, args.processes, ship=SHIPPED_PACKAGES if args.backend == "ray" else ())
    try:
        rows = run_suite(tasks, _names(args.policies), agents, args.seeds, pool=pool, registry=baselines,
                         agent_runner=AGENT_RUNNER, progress=not args.json, hindsight=args.hindsight)
    finally:
        pool.close()
    written = write_leaderboard(rows, args.out) if args.out else []
    if args.json:
        print(dumps(rows_json(rows)))
    else:
        print(markdown_table(rows, LEADERBOARD_COLUMNS), end="")
        for path in written:
            print(f"wrote {path}")
    return 0


def run_train(args: argparse.Namespace) -> int:
    """Train every task x seed and print where each run went."""
    from tinysim_gym.experiments.pool import check_backend
    from tinysim_gym.experiments.suite.tasks import suite_tasks
    from tinysim_gym.experiments.suite.training import train_suite

    check_backend(args.backend, args.processes, None)
    if not 1 <= args.seeds <= 100:
        raise TinySimError(f"--seeds: expected 1..100 training seeds, got {args.seeds}")
    if args.timesteps is not None and not 1 <= args.timesteps <= 100_000_000:
        raise TinySimError(f"--timesteps: expected 1..100000000, got {args.timesteps}")
    tasks = suite_tasks(_names(args.tasks))
    t0 = time.perf_counter()
    cells = train_suite(tasks, args.algo, range(args.seeds), args.out, args.backend, args.processes, args.timesteps)
    failed = 0
    for c in cells:
        res = c["result"]
        best = getattr(res, "best_weighted_accuracy", None)
        line = {"cell": c["name"], "run_dir": str(getattr(res, "run_dir", c["run_dir"])), "seconds": c["seconds"],
                "best_weighted_accuracy": best, "error": c["error"]}
        failed += c["error"] is not None
        if args.json:
            print(dumps(line))
        else:
            shown = "-" if best is None else f"{best:.3f}"
            status = f"error: {c['error']}" if c["error"] else f"best held-out {shown} %"
            print(f"{c['name']}: {status} in {c['seconds']:.0f} s -> {line['run_dir']}")
    if not args.json:
        print(f"{len(cells)} cells in {time.perf_counter() - t0:.0f} s; tensorboard --logdir {args.out}")
    return 1 if failed else 0
