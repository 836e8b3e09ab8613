"""Two tiny suite tasks (300 ms horizons, three models), so that leaderboards with their oracles run in seconds."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

# three models, a two-sample buffer and 0.1 ms ticks: the DP oracle solves in about a second
TINY = {
    "board": "NUCLEO-L476RG",
    "profile": {"name": "tiny3", "selector_latency_ms": 0.2,
                "models": [{"id": 0, "accuracy": 94.0, "latency_ms": 1.6},
                           {"id": 1, "accuracy": 87.5, "latency_ms": 0.2},
                           {"id": 2, "accuracy": 92.0, "latency_ms": 0.6}]},
    "workload": {"mode": "async", "min_interval_ms": 1.0, "arrival_probability": 0.5, "buffer_size": 2,
                 "timebase_ms": 0.1},
    "horizon_ms": 300.0, "seed_compat": False,
}


@pytest.fixture(scope="session")
def tiny_tasks(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Task files ``tiny-pace`` (a battery that cannot afford the best model) and ``tiny-load`` (1 ms gaps)."""
    d: Path = tmp_path_factory.mktemp("tasks")
    pace = {**TINY, "name": "tiny-pace-scenario", "battery": {"capacity_mah": 0.0004, "initial_soc": 1.0}}
    load = {**TINY, "name": "tiny-load-scenario", "battery": {"capacity_mah": 0.001, "initial_soc": 1.0},
            "workload": {**TINY["workload"], "min_interval_ms": 0.5}}
    out = []
    for name, sc, level in (("tiny-pace", pace, 1), ("tiny-load", load, 2)):
        (d / f"{name}-scenario.yaml").write_text(yaml.safe_dump(sc))
        task = {"name": name, "level": level, "description": f"{name} for tests", "hard_because": "it is tiny",
                "scenario": f"{name}-scenario.yaml", "env": {"decisions_per_step": 4, "max_steps": 200}}
        (d / f"{name}.yaml").write_text(yaml.safe_dump(task))
        out.append(str(d / f"{name}.yaml"))
    return out
