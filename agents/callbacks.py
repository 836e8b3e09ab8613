"""Training callbacks: per-episode TensorBoard scalars, held-out evaluation, checkpoints, progress.

TensorBoard tags written (x axis: the agent's step count, which continues across resumes):

==================================  ============================================================
tag                                 value (one point per finished training episode)
==================================  ============================================================
tinysim/weighted_accuracy           the episode's weighted accuracy (%)
tinysim/dropped                     samples dropped (overflow, and after the battery died)
tinysim/operating_time_s            how long the device ran (s)
tinysim/energy_mah                  charge drawn (mAh)
tinysim/soc_end                     state of charge at the end (fraction)
tinysim/share/model_<id>            share of the episode's inferences served by model ``<id>``
tinysim/train/capacity_mah          battery capacity of each training episode as it starts (one point per
                                    episode; with ``randomize:`` the drawn capacity)
rollout/ep_weighted_accuracy        mean weighted accuracy of the episodes of the last rollout(s)
eval/<same names>                   held-out evaluation (mean over the eval seeds, deterministic), one
                                    point per evaluation, through SB3's logger (the only eval series)
eval/model_usage (image)            the share of each model over the first eval seed's episode
final/<names> and HParams           the run's final figures and its hyperparameters (agents.tb_summary)
==================================  ============================================================

The Custom Scalars layout (:data:`agents.tb_summary.LAYOUT`) groups these on a few charts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecNormalize

from agents.rollout import episode_scalars, policy_fn, run_seeds, summary
from agents.safe_format import save_safe
from agents.tb_summary import tb_writer
from tinysim_gym.config import device_scenarios, load_scenario
from tinysim_gym.errors import TinySimError
from tinysim_gym.experiments.usage_plot import usage_image


class EpisodeMetricsCallback(BaseCallback):
    """Writes the ``tinysim/`` scalars of every finished training episode to TensorBoard.

    It also logs the battery capacity of every episode the training envs start (``capacities``: what the
    agent trained on, which with ``randomize:`` is the spread of the drawn capacities).
    """

    def __init__(self) -> None:
        super().__init__()
        self.episodes = 0
        self._recent: list[float] = []
        self.capacities: list[float] = []

    def _on_training_start(self) -> None:
        self._log_capacities(range(self.training_env.num_envs))

    def _log_capacities(self, indices: Sequence[int] | range) -> None:
        """Record the capacity of the episodes sub-envs ``indices`` are running now (just started)."""
        idx = [int(i) for i in indices]
        if not idx:
            return
        try:
            engines = self.training_env.get_attr("engine", idx)
        except AttributeError:  # an env without engines: nothing to log
            return
        writer = tb_writer(self.logger)
        for eng in engines:
            cap = float(eng.scenario.battery.capacity_mah)
            self.capacities.append(cap)
            if writer is not None:
                writer.add_scalar("tinysim/train/capacity_mah", cap, self.num_timesteps)

    def capacity_range(self) -> dict[str, float | int] | None:
        """``{min, max, episodes}`` of the capacities logged so far (None before any)."""
        if not self.capacities:
            return None
        return {"min": min(self.capacities), "max": max(self.capacities), "episodes": len(self.capacities)}

    def _on_step(self) -> bool:
        dones = self.locals.get("dones")
        if dones is not None and np.any(dones):
            self._log_capacities(np.flatnonzero(dones))  # reset in the same step: the next episode's draw
        writer = tb_writer(self.logger)
        for info in self.locals.get("infos", []):
            m = info.get("episode_metrics")
            if m is None:
                continue
            self.episodes += 1
            scalars = episode_scalars(m)
            self._recent.append(scalars["weighted_accuracy"])
            if writer is not None:
                for key, value in scalars.items():
                    writer.add_scalar(f"tinysim/{key}", value, self.num_timesteps)
        return True

    def _on_rollout_end(self) -> None:
        if self._recent:
            self.logger.record("rollout/ep_weighted_accuracy", float(np.mean(self._recent[-20:])))
            self._recent = self._recent[-20:]
        writer = tb_writer(self.logger)
        if writer is not None:
            writer.flush()


def save_model(model: BaseAlgorithm, path: Path, normalizer: VecNormalize | None = None,
               extra: Mapping[str, Any] | None = None) -> None:
    """Save ``model`` atomically (temp file, then rename) in both formats.

    The SB3 ``.zip`` (and the ``VecNormalize`` statistics as ``<stem>_vecnormalize.pkl``) keep the optimiser
    state that ``--resume`` needs; the safe pair beside it (``<stem>.safetensors`` and ``<stem>.agent.json``,
    :func:`agents.safe_format.save_safe`, with the normalisation statistics and ``extra`` in the
    description) is what evaluation, sweeps and the demo load, without unpickling anything.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.zip")
    model.save(tmp)
    if normalizer is not None:
        npath = vecnormalize_path(path)
        ntmp = npath.with_name(f".{npath.name}.tmp")
        normalizer.save(str(ntmp))
        os.replace(ntmp, npath)
    save_safe(model, path, normalizer, extra)
    os.replace(tmp, path)


def last_multiple(steps: int, freq: int) -> int:
    """The last multiple of ``freq`` at or before ``steps`` (0 when ``freq`` is 0).

    A periodic callback counts from there, so a session resumed at step ``steps`` evaluates and saves at
    the next multiple of its frequency, as the uninterrupted run would, not at its first step (SB3 calls
    ``_init_callback`` before it sets ``num_timesteps``, so the count would otherwise start at 0).
    """
    return (int(steps) // int(freq)) * int(freq) if freq > 0 else int(steps)


def vecnormalize_path(model_path: Path) -> Path:
    """Where the ``VecNormalize`` statistics of a saved model live: ``<stem>_vecnormalize.pkl``."""
    return model_path.with_name(f"{model_path.stem}_vecnormalize.pkl")


class CheckpointCallback(BaseCallback):
    """``checkpoints/model_<steps>_steps.zip`` (plus VecNormalize statistics) every ``save_freq`` steps."""

    def __init__(self, save_freq: int, save_dir: Path, normalizer: VecNormalize | None = None,
                 extra: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.save_freq = int(save_freq)
        self.save_dir = Path(save_dir)
        self.normalizer = normalizer
        self.extra = extra
        self._last = 0

    def _on_training_start(self) -> None:
        self._last = last_multiple(self.num_timesteps, self.save_freq)

    def _on_step(self) -> bool:
        if self.save_freq > 0 and self.num_timesteps - self._last >= self.save_freq:
            self.save()
        return True

    def save(self) -> Path:
        """Save a checkpoint at the current step count."""
        self._last = self.num_timesteps
        path = self.save_dir / f"model_{self.num_timesteps}_steps.zip"
        save_model(self.model, path, self.normalizer, self.extra)
        return path


#: about how many points of the first eval seed's model usage the evaluation image draws
USAGE_POINTS = 200


def device_configs(env_config: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(device label, env config)`` for each device of the env config's ``randomize.device`` scenario.

    Raises:
        TinySimError: the scenario lists no devices (``eval_per_device`` has nothing to split).
    """
    sc = load_scenario(env_config["scenario"])
    devices = device_scenarios(sc)
    if not devices:
        raise TinySimError(f"eval_per_device: scenario {sc.name!r} has no randomize.device list to evaluate "
                           "each device of; drop the key or use a scenario that lists devices")
    return [(label, {**env_config, "scenario": dev}) for label, dev in devices]


class HeldOutEvalCallback(BaseCallback):
    """SB3-EvalCallback-like: deterministic episodes on fixed held-out seeds every ``eval_freq`` steps.

    Writes ``eval/weighted_accuracy`` (and the other figures) and the ``eval/model_usage`` image to
    TensorBoard at the current step (one series, on the step axis of every other tag), keeps
    ``evaluations.npz`` (timesteps, per-episode weighted accuracy) and saves
    ``best_model.zip`` (plus ``best_model_vecnormalize.pkl``) whenever the mean weighted accuracy improves.

    With ``per_device`` (the ``eval_per_device`` hyperparameter) every seed runs on every device of the
    scenario's ``randomize.device`` list, device by device, instead of each seed drawing one device: a
    checkpoint is then never chosen on episodes that miss the device it runs dry. The score stays the mean
    weighted accuracy over all those episodes; each (device, seed) episode is the same scenario for every
    checkpoint, so its LP bound is a constant and the mean ranks checkpoints exactly as the mean points
    below ``upper`` does (the figure candidates are judged on), without an LP solve per evaluation.
    """

    def __init__(self, env_config: Mapping[str, Any], seeds: Sequence[int], eval_freq: int, run_dir: Path,
                 normalizer: VecNormalize | None = None, report: Callable[[str], None] | None = None,
                 vec_env_wrappers: list[Any] | None = None, extra: Mapping[str, Any] | None = None,
                 per_device: bool = False) -> None:
        super().__init__()
        self.extra = extra
        self.env_config = dict(env_config)
        self.configs = device_configs(self.env_config) if per_device else [("", self.env_config)]
        self.seeds = [int(s) for s in seeds]
        self.eval_freq = int(eval_freq)
        self.run_dir = Path(run_dir)
        self.normalizer = normalizer
        self.report = report
        self.vec_env_wrappers = vec_env_wrappers
        self._last = 0
        self.best = -np.inf
        self.last: dict[str, float] = {}
        self.timesteps: list[int] = []
        self.results: list[list[float]] = []
        self._load_history()

    def _load_history(self) -> None:
        path = self.run_dir / "evaluations.npz"
        if path.is_file():
            data = np.load(path)
            self.timesteps = [int(t) for t in data["timesteps"]]
            self.results = [list(map(float, r)) for r in data["weighted_accuracy"]]
            if self.results:
                self.best = max(float(np.mean(r)) for r in self.results)

    def _on_training_start(self) -> None:
        self._last = last_multiple(self.num_timesteps, self.eval_freq)

    def _on_step(self) -> bool:
        if self.eval_freq > 0 and self.num_timesteps - self._last >= self.eval_freq:
            self.evaluate()
        return True

    def evaluate(self) -> float:
        """Run the held-out episodes now; returns their mean weighted accuracy."""
        self._last = self.num_timesteps
        act = policy_fn(self.model, self.normalizer)
        runs: list[dict[str, Any]] = []
        usage = None
        by_device: dict[str, float] = {}
        for label, cfg in self.configs:
            device_runs, device_usage = run_seeds(act, cfg, self.seeds, usage_points=0 if runs else USAGE_POINTS,
                                                  vec_env_wrappers=self.vec_env_wrappers)
            usage = usage if runs else device_usage
            runs.extend(device_runs)
            by_device[label] = float(np.mean([r["weighted_accuracy"] for r in device_runs]))
        s = summary(runs)
        self.last = s
        # straight to the writer at this step: a logger dump here would also write the pending losses of
        # the last update, which SB3 writes again at its own next dump (one step, two points)
        writer = tb_writer(self.logger)
        if writer is not None:
            for key, value in s.items():
                writer.add_scalar(f"eval/{key}", value, self.num_timesteps)
            title = f"model usage, seed {self.seeds[0]}, step {self.num_timesteps}"
            writer.add_image("eval/model_usage", usage_image(usage, title), self.num_timesteps, dataformats="HWC")
            writer.flush()
        self.timesteps.append(self.num_timesteps)
        self.results.append([float(r["weighted_accuracy"]) for r in runs])
        tmp = self.run_dir / ".evaluations.tmp.npz"
        np.savez(tmp, timesteps=np.array(self.timesteps), weighted_accuracy=np.array(self.results))
        os.replace(tmp, self.run_dir / "evaluations.npz")
        wa = s["weighted_accuracy"]
        improved = wa > self.best
        if improved:
            self.best = wa
            save_model(self.model, self.run_dir / "best_model.zip", self.normalizer, self.extra)
            devices = {"eval_devices": by_device} if len(self.configs) > 1 else {}
            _write_json(self.run_dir / "best_model.json", {"num_timesteps": self.num_timesteps, **s,
                                                           "eval_seeds": self.seeds, **devices})
        if self.report is not None:
            mark = " (new best)" if improved else ""
            self.report(f"step {self.num_timesteps}: held-out weighted accuracy {wa:.3f} %{mark}")
        return wa


class ProgressCallback(BaseCallback):
    """Calls ``update(fraction)`` as training advances from ``start`` to ``total`` steps."""

    def __init__(self, update: Callable[[float], None], start: int, total: int) -> None:
        super().__init__()
        self.update = update
        self.start = start
        self.total = max(1, total)

    def _on_step(self) -> bool:
        if self.n_calls % 64 == 0:
            self.update((self.num_timesteps - self.start) / max(1, self.total - self.start))
        return True


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(dict(data), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
