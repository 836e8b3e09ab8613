"""The greedy checks with ``eval_per_device``: a checkpoint is chosen on every training device, not a draw."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import agents.callbacks as C
from agents import hyperparams as H
from tinysim_gym.config import load_scenario
from tinysim_gym.errors import ConfigError, TinySimError

#: weighted accuracy of each fake checkpoint on device 1 and device 2: "sharp" is the better one on device 1
#: (what three draws that all land there would pick) but runs device 2 dry; "even" is better on both together
SCORES = {"sharp": (99.0, 10.0), "even": (95.0, 94.0)}


def _fake_run_seeds(act: Any, cfg: Mapping[str, Any], seeds: Sequence[int], usage_points: int = 0,
                    vec_env_wrappers: Any = None) -> tuple[list[dict[str, float]], None]:
    devices = cfg["scenario"].randomize["device"]
    assert len(devices) == 1, "each evaluation env runs one device"
    k = int(cfg["scenario"].name.rsplit("-", 1)[1])
    wa = SCORES[act.name][k - 1]
    return [{"weighted_accuracy": wa, "dropped": 0.0, "operating_time_ms": 1.0, "energy_mah": 0.0,
             "soc_end": 0.0} for _ in seeds], None


def _choose(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep_devices: slice) -> str:
    """Evaluate "sharp" then "even" on the kept devices; the name of the checkpoint saved last as best."""
    saved: list[str] = []
    tmp_path.mkdir()
    monkeypatch.setattr(C, "run_seeds", _fake_run_seeds)
    monkeypatch.setattr(C, "policy_fn", lambda model, normalizer=None: model)
    monkeypatch.setattr(C, "save_model", lambda model, path, normalizer=None, extra=None: saved.append(model.name))
    sc = load_scenario("suite-generalist")
    devices = sc.randomize["device"][keep_devices]
    sc = sc.model_copy(update={"randomize": {**sc.randomize, "device": devices}})
    cb = C.HeldOutEvalCallback({"scenario": sc}, [100, 101], 1, tmp_path, per_device=True)
    assert [cfg["scenario"].randomize["device"] for _, cfg in cb.configs] == [[d] for d in devices]
    for step, name in enumerate(("sharp", "even"), start=1):
        cb.model = SimpleNamespace(name=name, logger=None)
        cb.num_timesteps = step
        cb.evaluate()
    return saved[-1]


def test_the_checkpoint_is_the_best_over_every_device(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _choose(tmp_path / "one", monkeypatch, slice(0, 1)) == "sharp"  # device 1 alone: sharp (99 > 95)
    assert _choose(tmp_path / "both", monkeypatch, slice(0, 2)) == "even"  # both: 94.5 > 54.5
    best = json.loads((tmp_path / "both" / "best_model.json").read_text())
    assert best["num_timesteps"] == 2 and best["weighted_accuracy"] == pytest.approx(94.5)
    assert list(best["eval_devices"].values()) == [95.0, 94.0]


def test_per_device_needs_a_device_list(tmp_path: Path) -> None:
    with pytest.raises(TinySimError, match="eval_per_device: scenario 'usps-l476-async1' has no randomize.device"):
        C.HeldOutEvalCallback({"scenario": "usps-l476-async1"}, [100], 1, tmp_path, per_device=True)


def test_eval_per_device_is_a_boolean() -> None:
    with pytest.raises(ConfigError, match=r"eval_per_device: expected true or false"):
        H.validate("ppo", {"eval_per_device": "yes"}, "hyperparams")
    assert H.validate("ppo", {}, "hyperparams")["eval_per_device"] is False
