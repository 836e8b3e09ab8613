r"""``tinysim export``: a policy as dependency-free C99 for the microcontroller, with its figures.

Writes ``DIR/tinysim_policy.h``, ``DIR/tinysim_policy.c`` (no heap, libm only for ``tanhf`` in tanh
networks, no other dependency) and ``DIR/manifest.json`` (features, quantisation, source, footprint, and
the figures measured here). ``tinysim_policy_act(obs)`` returns the model for the env observation the
manifest names; ``tinysim_obs_*`` build that observation on the device, bit for bit as the env does.

An agent (``--agent``: a run directory, a safe-format file, or any reference ``load_agent`` takes) is
exported as float32, as int8 (``--quantize int8``) or distilled into a decision tree or lookup table
(``--distill tree|table``); the manifest's ``report`` gives its agreement with the agent on the states of
the evaluation episodes (seeds 0..N-1) and its weighted accuracy in simulation next to the agent's. A
heuristic (``--policy fuzzy|ladder|budget|queue-greedy``) is exported for a scenario.

Examples::

    tinysim export --agent runs/usps-l476-async-horizon/ppo_1 --out export/ppo --verify
    tinysim export --agent runs/usps-l476-async-horizon/ppo_1 --distill tree --out export/ppo-tree
    tinysim export --policy fuzzy --scenario usps-l476-async-horizon --out export/fuzzy
"""

from __future__ import annotations

import argparse

from tinysim_gym.cli.common import dumps
from tinysim_gym.errors import TinySimError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    p = sub.add_parser("export", help="write a policy as C99 for the microcontroller", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--agent", metavar="MODEL", help="a saved agent: run dir, .zip, .agent.json, .safetensors")
    src.add_argument("--policy", metavar="NAME", help="a heuristic: fuzzy, ladder, budget or queue-greedy")
    p.add_argument("--out", required=True, metavar="DIR", help="directory for the three files (created)")
    p.add_argument("--scenario", metavar="SCENARIO",
                   help="scenario (default: the agent's training scenario, or the env's default)")
    p.add_argument("--quantize", default="none", choices=("none", "int8"), help="weights and activations")
    p.add_argument("--distill", default="none", choices=("none", "tree", "table"),
                   help="fit a decision tree or lookup table to the agent's states")
    p.add_argument("--seeds", type=int, default=5, metavar="N", help="evaluation episodes on seeds 0..N-1")
    p.add_argument("--trust-pickle", action="store_true", help="allow a .zip without its safe-format pair")
    p.add_argument("--verify", action="store_true",
                   help="compile the export with the host gcc and check it against Python on those states")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Export, optionally verify, and print the manifest's figures."""
    from tinysim_gym.envs.settings import EnvSettings, split_kwargs
    from tinysim_gym.export import bundle
    from tinysim_gym.export.observation import ObsSpec
    from tinysim_gym.export.states import visit
    from tinysim_gym.export.verify import check, check_decisions

    if not 1 <= args.seeds <= 1000:
        raise TinySimError(f"--seeds: expected a count in 1..1000, got {args.seeds}")
    if args.agent is not None:
        from agents.export import export_agent
        from agents.loading import load_agent

        agent = load_agent(args.agent, trust_pickle=args.trust_pickle)
        out = export_agent(agent, quantize=args.quantize, distill=args.distill, seeds=range(args.seeds),
                           scenario=args.scenario, source={"ref": args.agent})
        export, policy, cfg = out.export, out.policy, agent.env_config(args.scenario)
    else:
        from baselines.onboard import heuristic_form

        if args.quantize != "none" or args.distill != "none":
            raise TinySimError("--quantize/--distill: only for agents (a heuristic has no weights)")
        cfg = split_kwargs({"scenario": args.scenario} if args.scenario else {}, {})
        settings = EnvSettings(cfg)
        policy = heuristic_form(args.policy, settings.scenario)
        export = bundle.build(policy, ObsSpec.of(settings), settings.n_models, {"heuristic": args.policy})
    written = bundle.write(export, args.out)
    manifest = export.manifest
    if args.verify:
        if args.agent is not None:
            states = visit(policy.act, cfg, range(args.seeds))
            share = check(args.out, states.obs, policy.act(states.obs, states.masks), states.masks)
            n = len(states.obs)
        else:  # a heuristic on the device's own state, decision by decision as the Python heuristic
            from baselines.onboard import decisions

            records, expected = decisions(args.policy, settings.scenario, range(args.seeds))
            share, n = check_decisions(args.out, records, expected), int((records["tick"] >= 0).sum())
        manifest = {**manifest, "verified_states": n, "verified_agreement": share}
        if share != 1.0:
            raise TinySimError(f"--verify: the C export picks another model on {100 * (1 - share):.3f} % of "
                               f"{n} states")
    if args.json:
        print(dumps(manifest))
        return 0
    foot = manifest["footprint"]
    print(f"{manifest['policy']} ({manifest['quantization']}): {manifest['obs_dim']} features -> "
          f"{manifest['n_actions']} models; constants {foot['policy_flash_bytes']} B, "
          f"~{foot['cycles_per_decision']} cycles per decision")
    for key, value in (manifest.get("report") or {}).items():
        print(f"  {key}: {value:.4f}" if isinstance(value, float) else f"  {key}: {value}")
    if args.verify:
        print(f"  verified: C = Python on {manifest['verified_states']} states")
    for path in written:
        print(f"wrote {path}")
    return 0
