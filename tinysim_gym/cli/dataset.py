"""``tinysim dataset``: episodes of the oracle, a baseline or a trained agent as a Minari dataset.

The dataset (observations, actions, rewards, terminations, truncations and the per-step infos) lands in
``<out>/<dataset id>``, ready for offline RL and imitation learning (docs/datasets.md)::

    tinysim dataset --policy oracle --scenario usps-l476-async-horizon --episodes 10 --out datasets
    tinysim dataset --policy budget --env tinysim/TinySim-load-v0 --episodes 20 --out datasets
    tinysim dataset --policy runs/usps-l476-async-horizon/ppo_1 --episodes 10 --out datasets
    MINARI_DATASETS_PATH=datasets python -c "import minari; print(minari.load_dataset('ID').total_steps)"

``--policy`` is ``oracle``, any baseline name (``tinysim compare`` lists them) or a saved agent (a run
directory, a ``.zip`` with its safe pair, an ``.agent.json``). Episodes run on seeds ``--seed`` onwards.
"""

from __future__ import annotations

import argparse

from tinysim_gym.cli.common import progress_bar


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    p = sub.add_parser("dataset", help="write episodes of a policy as a Minari dataset (offline RL)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--policy", required=True, help="oracle, a baseline name, or a saved agent (run dir or model)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scenario", help="scenario name or YAML path (on tinysim/TinySim-v0, or the agent's env)")
    where.add_argument("--env", metavar="ID", help="a registered id with its registered settings")
    p.add_argument("--episodes", type=int, required=True, metavar="N", help="episodes to record")
    p.add_argument("--out", required=True, metavar="DIR", help="datasets directory (MINARI_DATASETS_PATH to load)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first episode (default 0)")
    p.add_argument("--dataset-id", metavar="NAME-vN", help="Minari id (default tinysim-<scenario>-<policy>-v0)")
    p.add_argument("--trust-pickle", action="store_true", help="let an agent load from a raw SB3 zip (runs code)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Record the episodes and print where the dataset went."""
    from agents.offline_dataset import write_dataset
    from baselines import make

    update, close = progress_bar(desc="episodes")
    try:
        result = write_dataset(args.policy, args.out, args.episodes, scenario=args.scenario, env_id=args.env,
                               seed=args.seed, dataset_id=args.dataset_id, make_baseline=make,
                               trust_pickle=args.trust_pickle, progress=update)
    finally:
        close()
    mean = sum(result.weighted_accuracy) / len(result.weighted_accuracy)
    print(f"dataset {result.dataset_id}: {result.episodes} episodes, {result.steps} steps, mean weighted "
          f"accuracy {mean:.3f} % -> {result.path}")
    print(f"load: MINARI_DATASETS_PATH={result.path.parent} python -c \"import minari; "
          f"print(minari.load_dataset('{result.dataset_id}'))\"")
    return 0
