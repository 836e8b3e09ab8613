"""``tinysim suite transfer``: the cross-domain matrix of a policy trained on one distribution.

Rows = training distributions (suite tasks with an agent), columns = held-out groups
(``configs/suite/heldout/``: boards, profiles or battery and interval ranges the training never drew), a
cell = the agent's mean normalised score over the group's combinations and its points below each
combination's oracle. Every heuristic, the DP oracle and the bound run on the same episodes (evaluation seeds
1000..). See docs/generalist.md.

Examples::

    tinysim suite transfer --train generalist --agents pretrained --seeds 5 --out results/generalist
    tinysim suite transfer --train generalist --agents runs/generalist --groups unseen-board --json
"""

from __future__ import annotations

import argparse
from typing import Any

from tinysim_gym.cli.common import add_pool_args, dumps
from tinysim_gym.errors import TinySimError


def add_transfer(acts: Any) -> None:
    """Register ``suite transfer`` under the ``suite`` actions."""
    tf = acts.add_parser("transfer", help="the transfer matrix: trained distributions x held-out groups",
                         description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    tf.add_argument("--train", default="generalist", metavar="A,B",
                    help="comma-separated training tasks, the matrix's rows (default generalist)")
    tf.add_argument("--agents", default="pretrained", metavar="DIR|pretrained",
                    help="`pretrained` (pretrained:<task>) or a `suite train` output directory (default pretrained)")
    tf.add_argument("--algo", default="maskable_ppo", help="the algorithm of the runs under --agents DIR")
    tf.add_argument("--groups", metavar="A,B", help="held-out groups (names or files; default: every built-in one)")
    tf.add_argument("--seeds", type=int, default=5, metavar="N", help="evaluation seeds per combination (default 5)")
    add_pool_args(tf)
    tf.add_argument("--no-oracle", action="store_true",
                    help="skip the DP oracle (minutes per solve on slow devices): compare with upper, the LP bound")
    tf.add_argument("--out", metavar="DIR", help="write transfer.md, transfer.csv and combinations.csv here")
    tf.add_argument("--json", action="store_true", help="print {cells, combinations, verdict} as JSON")
    tf.set_defaults(func=run_transfer_cli)


def _agents(ref: str, tasks: list[Any], algo: str) -> dict[str, Any]:
    from pathlib import Path

    from tinysim_gym.experiments.suite.leaderboard import AgentEntry

    if ref == "pretrained":
        from agents.pretrained import pretrained_tasks

        have = set(pretrained_tasks())
        return {t.name: AgentEntry(f"agent:{t.name}", (f"pretrained:{t.name}",)) for t in tasks if t.name in have}
    from tinysim_gym.experiments.suite.training import find_agents

    if not Path(ref).is_dir():
        raise TinySimError(f"--agents: expected `pretrained` or a directory written by `tinysim suite train`, "
                           f"got {ref!r}")
    found = find_agents(ref, tasks, algo)
    return {name: AgentEntry(f"agent:{name}", entries[0].refs) for name, entries in found.items()}


def run_transfer_cli(args: argparse.Namespace) -> int:
    """Run the matrix, print it, and write its files."""
    import baselines
    from tinysim_gym.cli.sweep import AGENT_RUNNER, SHIPPED_PACKAGES
    from tinysim_gym.experiments.pool import make_pool
    from tinysim_gym.experiments.suite.protocol import eval_seeds
    from tinysim_gym.experiments.suite.tasks import suite_tasks
    from tinysim_gym.experiments.suite.transfer import run_transfer, transfer_markdown, verdict, write_transfer
    from tinysim_gym.experiments.table import json_ready

    eval_seeds(args.seeds)
    tasks = suite_tasks([t.strip() for t in args.train.split(",") if t.strip()])
    agents = _agents(args.agents, tasks, args.algo)
    groups = [g.strip() for g in args.groups.split(",") if g.strip()] if args.groups else None
    pool = make_pool(args.backend, args.processes, ship=SHIPPED_PACKAGES if args.backend == "ray" else ())
    try:
        cells, combos = run_transfer(tasks, agents, groups, args.seeds, pool=pool, registry=baselines,
                                     agent_runner=AGENT_RUNNER, progress=not args.json, oracle=not args.no_oracle)
    finally:
        pool.close()
    written = write_transfer(cells, combos, args.out) if args.out else []
    if args.json:
        print(dumps(json_ready({"cells": cells, "combinations": combos, "verdict": verdict(combos)})))
    else:
        print(transfer_markdown(cells, combos), end="")
        for path in written:
            print(f"wrote {path}")
    return 0
