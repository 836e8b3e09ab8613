"""Train, resume, load and evaluate agents; runs live in ``<log_dir>/<scenario>/<algo>_<n>``.

A run directory holds:

======================================  ================================================================
file                                    what
======================================  ================================================================
run.yaml                                algorithm, scenario (resolved), hyperparameters, env config, seed,
                                        steps done: everything ``evaluate`` and ``--resume`` need
events.out.tfevents.*                   TensorBoard scalars (``tinysim/*``, ``rollout/*``, ``train/*``,
                                        ``eval/*``); a resumed run appends a new file to the same curve
checkpoints/model_<steps>_steps.zip     checkpoints (every ``checkpoint_freq`` steps and at the end);
                                        ``*_vecnormalize.pkl`` beside them when VecNormalize is used
best_model.zip, best_model.json         best held-out evaluation so far (and its figures)
final_model.zip                         the model at the end of the last training session
evaluations.npz                         held-out evaluations: timesteps, per-seed weighted accuracy
======================================  ================================================================

Seeds: the model uses ``seed``; training sub-env ``i`` starts from seed ``10000 + 1000 * seed + i``
(``+ steps done`` after a resume); held-out evaluation during training uses ``eval_seeds`` (default
100, 101, 102); ``tinysim evaluate --seeds N`` uses 0..N-1, as ``tinysim compare``. No training episode
starts from an evaluation seed.
"""

from __future__ import annotations

import datetime as _dt
import os
import pickle
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import VecNormalize

from agents import hyperparams as H
from agents.callbacks import (
    CheckpointCallback,
    EpisodeMetricsCallback,
    HeldOutEvalCallback,
    ProgressCallback,
    save_model,
    vecnormalize_path,
)
from agents.factory import env_config, make_model, make_vec_env
from tinysim_gym.config import ScenarioConfig, load_scenario
from tinysim_gym.errors import TinySimError

RUN_FILE = "run.yaml"
CHECKPOINT_RE = re.compile(r"^model_(\d+)_steps\.zip$")


def train_seed_base(seed: int) -> int:
    """First seed of the training sub-envs (far from the evaluation seeds)."""
    return 10_000 + 1000 * int(seed)


@dataclass
class TrainResult:
    """What a training session produced."""

    run_dir: Path
    algo: str
    scenario: str
    num_timesteps: int
    best_weighted_accuracy: float | None
    elapsed_s: float
    files: dict[str, Path] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- run dirs


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "scenario"


def next_run_dir(log_dir: str | os.PathLike[str], scenario: str, algo: str) -> Path:
    """``<log_dir>/<scenario>/<algo>_<n>`` with ``n`` one more than the highest existing."""
    parent = Path(log_dir) / _safe(scenario)
    n = 0
    if parent.is_dir():
        for p in parent.iterdir():
            m = re.fullmatch(rf"{re.escape(algo)}_(\d+)", p.name)
            if m:
                n = max(n, int(m.group(1)))
    return parent / f"{algo}_{n + 1}"


def read_run(run_dir: Path) -> dict[str, Any]:
    """The ``run.yaml`` of a run directory."""
    path = run_dir / RUN_FILE
    if not path.is_file():
        raise TinySimError(f"resume: {str(run_dir)!r} is not a run directory (no {RUN_FILE})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise TinySimError(f"resume: cannot read {str(path)!r}: {' '.join(str(exc).split())[:160]}") from None
    if not isinstance(data, dict) or not {"algo", "scenario_config", "hyperparams"} <= set(data):
        raise TinySimError(f"resume: {str(path)!r} is not a tinysim run file")
    return data


def write_run(run_dir: Path, data: Mapping[str, Any]) -> None:
    """Write ``run.yaml`` atomically."""
    tmp = run_dir / f".{RUN_FILE}.tmp"
    tmp.write_text(yaml.safe_dump(_plain(data), sort_keys=False), encoding="utf-8")
    os.replace(tmp, run_dir / RUN_FILE)


def _plain(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    if hasattr(x, "item") and callable(x.item):
        return x.item()
    return x


def latest_checkpoint(run_dir: Path) -> tuple[Path, int] | None:
    """The checkpoint with the most steps, or None."""
    best: tuple[Path, int] | None = None
    ck = run_dir / "checkpoints"
    if ck.is_dir():
        for p in ck.iterdir():
            m = CHECKPOINT_RE.match(p.name)
            if m and p.is_file() and p.stat().st_size > 0 and (best is None or int(m.group(1)) > best[1]):
                best = (p, int(m.group(1)))
    return best


# --------------------------------------------------------------------------------------------- training


def train(
    algo: str | None = None,
    scenario: str | ScenarioConfig | None = None,
    timesteps: int | None = None,
    seed: int = 0,
    log_dir: str | os.PathLike[str] = "runs",
    hyperparams_file: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    resume: str | os.PathLike[str] | None = None,
    report: Callable[[str], None] | None = None,
    progress: Callable[[float], None] | None = None,
) -> TrainResult:
    """Train an agent (or continue a run) and return where it went.

    Args:
        algo: ``ppo``, ``a2c``, ``dqn`` or ``maskable_ppo`` (optional with ``resume``).
        scenario: scenario name, path or config (optional with ``resume``).
        timesteps: total training steps of the run (default: the file's ``n_timesteps``; with ``resume``:
            the run's total, which must exceed the steps already done).
        seed: model and environment seed.
        log_dir: parent of the run directories.
        hyperparams_file: a hyperparameter file instead of ``configs/agents/<algo>.yaml``.
        overrides: nested hyperparameter overrides (``--hyperparams``).
        resume: a run directory to continue from its latest checkpoint.
        report: receives one-line progress messages (evaluations, files).
        progress: receives the fraction of this session's steps done.

    Raises:
        TinySimError: bad algorithm, scenario, hyperparameters or resume directory; nothing is written then.
    """
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    say = report or (lambda _msg: None)
    if resume is not None:
        setup = _resume_setup(Path(resume), algo, scenario, timesteps, overrides, hyperparams_file)
    else:
        setup = _new_setup(algo, scenario, timesteps, seed, log_dir, hyperparams_file, overrides)
    run_dir, algo_name, hp, sc_dump, total, start, model, venv, run = setup
    normalizer = venv if hasattr(venv, "obs_rms") else None
    if resume is None:
        run_dir.mkdir(parents=True, exist_ok=False)
        (run_dir / "checkpoints").mkdir()
        write_run(run_dir, run)
    model.set_logger(configure(str(run_dir), ["tensorboard"]))
    cfg = env_config(sc_dump, hp)
    eval_cb = HeldOutEvalCallback(cfg, hp["eval_seeds"], hp["eval_freq"], run_dir, normalizer, say,
                                  hp.get("vec_env_wrapper"))
    ckpt_cb = CheckpointCallback(hp["checkpoint_freq"], run_dir / "checkpoints", normalizer)
    callbacks = [EpisodeMetricsCallback(), eval_cb, ckpt_cb]
    if progress is not None:
        callbacks.append(ProgressCallback(progress, start, total))
    say(f"training {algo_name} on {sc_dump['name']} for {total - start} steps (to {total}) in {run_dir}")
    interrupted = False
    try:
        model.learn(total - start, callback=callbacks, reset_num_timesteps=resume is None and start == 0,
                    progress_bar=False)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        save_model(model, run_dir / "checkpoints" / f"model_{model.num_timesteps}_steps.zip", normalizer)
    rollout = int(getattr(model, "n_steps", 1)) * int(model.n_envs)
    if not interrupted and (not eval_cb.timesteps or model.num_timesteps - eval_cb.timesteps[-1] >= rollout):
        eval_cb.evaluate()  # the end of training, unless the last evaluation was in the last rollout
    save_model(model, run_dir / "final_model.zip", normalizer)
    run["num_timesteps"] = int(model.num_timesteps)
    run["sessions"] = [*run.get("sessions", []),
                       {"from": start, "to": int(model.num_timesteps), "finished": _now(),
                        "seconds": round(time.perf_counter() - t0, 1), "interrupted": interrupted}]
    write_run(run_dir, run)
    venv.close()
    if interrupted:
        raise KeyboardInterrupt
    files = {"run": run_dir / RUN_FILE, "final": run_dir / "final_model.zip"}
    if (run_dir / "best_model.zip").is_file():
        files["best"] = run_dir / "best_model.zip"
    best = eval_cb.best if eval_cb.results else None
    return TrainResult(run_dir, algo_name, sc_dump["name"], int(model.num_timesteps), best,
                       time.perf_counter() - t0, files)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


def _new_setup(algo, scenario, timesteps, seed, log_dir, hyperparams_file, overrides):
    if algo is None:
        raise TinySimError("train: --algo is required (allowed: " + ", ".join(H.ALGOS) + ")")
    if scenario is None:
        raise TinySimError("train: --scenario is required")
    algo_name = H.canonical_algo(algo)
    sc = scenario if isinstance(scenario, ScenarioConfig) else load_scenario(scenario)
    hp, hp_path = H.load(algo_name, sc.name, hyperparams_file, overrides)
    if timesteps is not None:
        hp["n_timesteps"] = H._int(timesteps, "--timesteps", 1)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31 - 20_000:
        raise TinySimError(f"--seed: expected a non-negative integer, got {seed!r}")
    sc_dump = sc.model_dump(mode="json")
    venv = make_vec_env(algo_name, hp, sc_dump, hp["n_envs"], train_seed_base(seed))
    model = make_model(algo_name, hp, venv, seed)
    run_dir = next_run_dir(log_dir, sc.name, algo_name)
    run = {
        "algo": algo_name,
        "scenario": sc.name,
        "scenario_ref": scenario if isinstance(scenario, str) else sc.name,
        "seed": seed,
        "n_timesteps": hp["n_timesteps"],
        "num_timesteps": 0,
        "hyperparams_file": str(hp_path),
        "hyperparams": hp,
        "env_config": env_config(sc.name, hp),
        "created": _now(),
        "scenario_config": sc_dump,
    }
    return run_dir, algo_name, hp, sc_dump, hp["n_timesteps"], 0, model, venv, run


def _resume_setup(run_dir, algo, scenario, timesteps, overrides, hyperparams_file):
    if not run_dir.is_dir():
        raise TinySimError(f"resume: {str(run_dir)!r} is not a directory")
    run = read_run(run_dir)
    ck = latest_checkpoint(run_dir)
    if ck is None:
        raise TinySimError(f"resume: no checkpoint in {str(run_dir / 'checkpoints')!r} (nothing to continue)")
    ck_path, done = ck
    algo_name = H.canonical_algo(run["algo"])
    if algo is not None and H.canonical_algo(algo) != algo_name:
        raise TinySimError(f"resume: the run trains {algo_name}, not {algo}")
    sc_dump = run["scenario_config"]
    if scenario is not None:
        name = scenario.name if isinstance(scenario, ScenarioConfig) else load_scenario(scenario).name
        if name != sc_dump.get("name"):
            raise TinySimError(f"resume: the run trains on {sc_dump.get('name')!r}, not {name!r}")
    if overrides or hyperparams_file:
        raise TinySimError("resume: the hyperparameters of a run are fixed (drop --hyperparams / --hyperparams-file)")
    hp = H.validate(algo_name, run["hyperparams"], f"{RUN_FILE}.hyperparams")
    total = int(run.get("n_timesteps", hp["n_timesteps"])) if timesteps is None else H._int(timesteps, "--timesteps", 1)
    if total <= done:
        raise TinySimError(
            f"resume: the run already has {done} steps (target {total}); pass --timesteps with a larger total"
        )
    stats = vecnormalize_path(ck_path)
    venv = make_vec_env(algo_name, hp, sc_dump, hp["n_envs"], train_seed_base(int(run.get("seed", 0))) + done,
                        normalize_stats=stats if stats.is_file() else None)
    cls = H.algo_class(algo_name)
    try:
        model = cls.load(str(ck_path), env=venv, device="cpu")
    except (ValueError, OSError, KeyError, RuntimeError, pickle.UnpicklingError) as exc:
        raise TinySimError(f"resume: cannot load {str(ck_path)!r}: {' '.join(str(exc).split())[:160]}") from None
    run["n_timesteps"] = total
    return run_dir, algo_name, hp, sc_dump, total, int(model.num_timesteps), model, venv, run


# --------------------------------------------------------------------------------------------- loading


@dataclass
class Agent:
    """A saved agent ready to act: the model, its VecNormalize statistics (or None) and its run."""

    path: Path
    algo: str
    model: BaseAlgorithm
    normalizer: VecNormalize | None
    run: dict[str, Any]

    @property
    def label(self) -> str:
        """Its row name in the comparison table."""
        return f"agent-{self.algo}"

    def env_config(self, scenario: ScenarioConfig | str | None = None) -> dict[str, Any]:
        """The env config it was trained with, on ``scenario`` (default: its training scenario)."""
        cfg = dict(self.run.get("env_config") or {})
        cfg["scenario"] = scenario if scenario is not None else self.run["scenario_config"]
        return cfg


def find_run_file(agent_path: Path) -> Path:
    """``run.yaml`` beside the model, or one level up (a checkpoint)."""
    for d in (agent_path.parent, agent_path.parent.parent):
        if (d / RUN_FILE).is_file():
            return d
    raise TinySimError(f"agent: no {RUN_FILE} beside {str(agent_path)!r} (expected a model saved by tinysim train)")


def load_agent(path: str | os.PathLike[str]) -> Agent:
    """Load a model saved by ``tinysim train`` (``best_model.zip``, ``final_model.zip`` or a checkpoint)."""
    p = Path(path)
    if p.is_dir():
        p = p / "best_model.zip"
    if not p.is_file():
        raise TinySimError(f"agent: {str(p)!r} does not exist")
    run_dir = find_run_file(p)
    try:
        run = read_run(run_dir)
    except TinySimError as exc:
        raise TinySimError(str(exc).replace("resume:", "agent:", 1)) from None
    algo = H.canonical_algo(run["algo"])
    try:
        model = H.algo_class(algo).load(str(p), device="cpu")
    except Exception as exc:  # a corrupt or foreign zip: one line
        msg = " ".join(str(exc).split())[:160]
        raise TinySimError(f"agent: cannot load {str(p)!r} as a {algo} model: {msg}") from None
    normalizer = None
    stats = vecnormalize_path(p)
    if stats.is_file():
        with stats.open("rb") as fh:
            normalizer = pickle.load(fh)
        normalizer.training = False
    return Agent(p, algo, model, normalizer, run)
