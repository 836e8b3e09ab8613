"""The README's deployment table: each export's size, time and charge, and its accuracy with that cost charged.

Usage: ``python benchmarks/deployment_table.py --agent RUN_DIR [DIR ...] [--seeds 5]`` after ``make firmware
AGENT=RUN_DIR`` (default DIRs: ``build/firmware/{agent,agent-int8,agent-tree,fuzzy}``). For each export
directory it reads ``manifest.json`` and ``firmware.json`` and runs ``tinysim evaluate --selector-cost DIR``'s
evaluation: the agent's row for an agent's export (its float policy, which the export matches: see the
agreement column), the heuristic's own row for a heuristic. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from agents.evaluation import evaluate_agent
from agents.loading import load_agent
from tinysim_gym.config import load_scenario
from tinysim_gym.export.firmware import with_selector_cost

DEFAULT_DIRS = ("build/firmware/agent", "build/firmware/agent-int8", "build/firmware/agent-tree",
                "build/firmware/fuzzy")


def main() -> None:
    """Print the table."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--agent", required=True)
    p.add_argument("dirs", nargs="*", default=list(DEFAULT_DIRS))
    p.add_argument("--seeds", type=int, default=5)
    args = p.parse_args()
    agent = load_agent(args.agent)
    print("| export | flash B (policy + obs builder) | RAM B per decision | us per decision at 80 MHz "
          "| uAh per decision | agreement with agent | weighted acc % with its cost charged |")
    print("|---|---|---|---|---|---|---|")
    for d in args.dirs:
        fw = json.loads((Path(d) / "firmware.json").read_text())
        man = json.loads((Path(d) / "manifest.json").read_text())
        sc = with_selector_cost(load_scenario(agent.run["scenario_config"]), d, fw["clock_mhz"])
        heuristic = str(man["policy"]).startswith("heuristic:")
        rows = evaluate_agent(agent, scenario=sc, seeds=args.seeds, baselines=heuristic)
        want = str(man["policy"]).split(":", 1)[1] if heuristic else agent.label
        acc = next(r["weighted_accuracy"] for r in rows if r["policy"] == want)
        agree = man.get("report", {}).get("agreement")
        name = f"{man['policy']} ({man['quantization']})"
        print(f"| {name} | {fw['flash_bytes']['policy']} + {fw['flash_bytes']['obs_builder']} "
              f"| {fw['ram_bytes_per_decision']} | {fw['us_per_decision']:.2f} | {fw['uah_per_decision']:.2e} "
              f"| {'-' if agree is None else f'{100 * agree:.2f} %'} | {acc:.3f} |")


if __name__ == "__main__":
    main()
