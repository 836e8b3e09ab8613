"""An agent's C exports on >= 1e5 observations of real episodes, and their accuracy in simulation (JSON).

Usage: ``python benchmarks/export.py --agent RUN_DIR [--seeds 5] [--states-seeds 5]``. The agent acts on
every sample (one decision per step) in ``--states-seeds`` episodes of its scenario, so the C observation
builder and the float32, int8 and tree exports are fed every observation of those episodes; then each
form's weighted accuracy is simulated with the agent's own settings on seeds 0..N-1 (``tinysim export``'s
report). Needs the host gcc.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np

from agents.export import agent_actions, export_agent, mlp_of
from agents.loading import load_agent
from tinysim_gym.envs.settings import EnvSettings, split_kwargs
from tinysim_gym.export import bundle
from tinysim_gym.export.observation import ObsSpec
from tinysim_gym.export.states import visit
from tinysim_gym.export.verify import HostBuild


def main() -> None:
    """Print one JSON object with every figure."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--agent", required=True)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--states-seeds", type=int, default=5)
    args = p.parse_args()
    agent = load_agent(args.agent)
    mlp = mlp_of(agent)
    cfg = {**split_kwargs(agent.env_config(), {}), "decisions_per_step": 1}
    t0 = time.perf_counter()
    states = visit(mlp.act, cfg, range(100, 100 + args.states_seeds))
    expected = agent_actions(agent, mlp, states.obs, states.masks)
    spec = ObsSpec.of(EnvSettings(cfg))
    out: dict[str, object] = {"agent": args.agent, "observations": len(states.obs),
                              "episode_seconds": round(time.perf_counter() - t0, 2)}
    for form, kw in (("float32", {}), ("int8", {"quantize": "int8"}), ("tree", {"distill": "tree"}),
                     ("table", {"distill": "table"})):
        res = export_agent(agent, seeds=range(args.seeds), **kw)
        with tempfile.TemporaryDirectory() as d:
            bundle.write(res.export, d)
            hb = HostBuild(d)
            try:
                c = hb.act(states.obs, states.masks)
                if form == "float32":
                    obs = hb.observations(states.records, spec.obs_dim)
                    out["obs_builder_bit_exact"] = bool(np.array_equal(obs.view(np.uint32),
                                                                       states.record_obs.view(np.uint32)))
                    out["obs_builder_records"] = len(obs)
            finally:
                hb.close()
        out[form] = {**res.report, "c_agreement_1e5": float(np.mean(c == expected)),
                     "flash_bytes": res.export.manifest["footprint"]["policy_flash_bytes"]}  # type: ignore[index]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
