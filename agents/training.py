"""Train and resume agents; runs live in ``<log_dir>/<scenario>/<algo>_<n>`` (:mod:`agents.run_dir`).

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
<stem>.safetensors, <stem>.agent.json   beside every ``.zip`` above: the same policy in the safe format
                                        (:mod:`agents.safe_format`), what ``agents.loading.load_agent`` reads
evaluations.npz                         held-out evaluations: timesteps, per-seed weighted accuracy
======================================  ================================================================

Seeds: the model uses ``seed``; training sub-env ``i`` starts from seed ``10000 + 1000 * seed + i`` (``+ steps
done`` after a resume; a ``warm_start``'s teacher episodes from ``+ 500``); held-out evaluation during training
uses ``eval_seeds`` (default 100, 101, 102); ``tinysim evaluate --seeds N`` uses 0..N-1, as ``tinysim compare``.
No training episode starts from an evaluation seed. On a ``randomize:`` scenario each sub-env draws every
episode's scenario from its own seeded generator (see :class:`~tinysim_gym.envs.vector_env.TinySimVectorEnv`);
``run.yaml`` keeps the range of the capacities the training episodes ran at (``train_capacity_mah``).

Trust: an SB3 ``.zip`` (and a ``.pkl``) runs code when it is unpickled. :func:`agents.loading.load_agent`
reads the safe pair and unpickles a raw zip only with ``trust_pickle=True``; ``--resume`` needs the optimiser
state, which only the zip holds, so it is refused without ``trust_pickle=True``. A resumed session hides the
TensorBoard events the interrupted one wrote after its checkpoint (a ``SessionLog.START`` event at the
checkpoint's step + 1, TensorBoard's own purge mechanism), so each step is on the curve once.
"""

from __future__ import annotations

import datetime as _dt
import os
import pickle
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from stable_baselines3.common.logger import Logger, configure

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
from agents.run_dir import RUN_FILE, latest_checkpoint, next_run_dir, plain, read_run, write_run
from agents.safe_format import describe
from agents.tb_summary import hparam_values, tb_writer, write_hparams, write_layout
from agents.wrappers import selected_features
from tinysim_gym.config import ScenarioConfig, load_scenario
from tinysim_gym.envs.settings import EnvSettings, split_kwargs
from tinysim_gym.errors import TinySimError


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
    trust_pickle: bool = False,
) -> TrainResult:
    """Train an agent (or continue a run) and return where it went.

    Args:
        algo: ``ppo``, ``a2c``, ``dqn`` or ``maskable_ppo`` (optional with ``resume``).
        scenario: scenario name, path or config (optional with ``resume``).
        timesteps: total training steps of the run (default: the file's ``n_timesteps``; with ``resume``:
            the run's total, which must exceed the steps already done).
        seed: model and environment seed.
        log_dir: parent of the run directories.
        hyperparams_file: a zoo hyperparameter file instead of ``configs/zoo/<algo>.yml``.
        overrides: nested hyperparameter overrides (``--hyperparams``).
        resume: a run directory to continue from its latest checkpoint (unpickles it: needs ``trust_pickle``).
        report: receives one-line progress messages (evaluations, files).
        progress: receives the fraction of this session's steps done.
        trust_pickle: allow ``resume`` to unpickle the run's checkpoint (SB3 zip, ``VecNormalize`` pkl).

    Raises:
        TinySimError: bad algorithm, scenario, hyperparameters or resume directory; nothing is written then.
    """
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    say = report or (lambda _msg: None)
    if resume is not None:
        setup = _resume_setup(Path(resume), algo, scenario, timesteps, overrides, hyperparams_file, trust_pickle)
    else:
        setup = _new_setup(algo, scenario, timesteps, seed, log_dir, hyperparams_file, overrides)
    run_dir, algo_name, hp, sc_dump, total, start, model, venv, run = setup
    normalizer = venv if hasattr(venv, "obs_rms") else None
    cfg = env_config(sc_dump, hp)
    extra = safe_extra(run, cfg, hp)
    describe(model, normalizer, extra)  # a model the safe format cannot hold is refused before any file
    eval_cb = HeldOutEvalCallback(cfg, hp["eval_seeds"], hp["eval_freq"], run_dir, normalizer, say,
                                  hp.get("vec_env_wrapper"), extra, hp.get("eval_per_device", False))
    if resume is None:
        run_dir.mkdir(parents=True, exist_ok=False)
        (run_dir / "checkpoints").mkdir()
        write_run(run_dir, run)
    model.set_logger(tensorboard_logger(run_dir, None if resume is None else start))
    write_layout(model.logger)
    ckpt_cb = CheckpointCallback(hp["checkpoint_freq"], run_dir / "checkpoints", normalizer, extra)
    episodes_cb = EpisodeMetricsCallback()
    callbacks = [episodes_cb, eval_cb, ckpt_cb]
    if progress is not None:
        callbacks.append(ProgressCallback(progress, start, total))
    if resume is None and hp.get("warm_start"):
        from agents.warm_start import warm_start

        run["warm_start"] = warm_start(model, hp["warm_start"], train_seed_base(int(run["seed"])),
                                       hp["env_kwargs"].get("max_models"), say).summary()
        write_run(run_dir, run)
        eval_cb.init_callback(model)
        eval_cb.evaluate()  # the greedy check at step 0: the cloned policy, before any RL update
    say(f"training {algo_name} on {sc_dump['name']} for {total - start} steps (to {total}) in {run_dir}")
    interrupted = False
    try:
        model.learn(total - start, callback=callbacks, reset_num_timesteps=resume is None and start == 0,
                    progress_bar=False)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        save_model(model, run_dir / "checkpoints" / f"model_{model.num_timesteps}_steps.zip", normalizer, extra)
    rollout = int(getattr(model, "n_steps", 1)) * int(model.n_envs)
    if not interrupted and (not eval_cb.timesteps or model.num_timesteps - eval_cb.timesteps[-1] >= rollout):
        eval_cb.evaluate()  # the end of training, unless the last evaluation was in the last rollout
    if eval_cb.last:
        final = {**eval_cb.last, "best_weighted_accuracy": eval_cb.best}
        write_hparams(model.logger, hparam_values(hp, algo=algo_name, scenario=sc_dump["name"],
                                                  seed=int(run.get("seed", 0))), final, model.num_timesteps)
    save_model(model, run_dir / "final_model.zip", normalizer, extra)
    run["num_timesteps"] = int(model.num_timesteps)
    seen = merge_range(run.get("train_capacity_mah"), episodes_cb.capacity_range())
    if seen is not None:
        run["train_capacity_mah"] = seen
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


def safe_extra(run: Mapping[str, Any], env_cfg: Mapping[str, Any], hp: Mapping[str, Any]) -> dict[str, Any]:
    """What the safe format keeps beside the weights: scenario, env config, hyperparameters, features.

    ``observation_features`` are the env's feature names after the run's feature selection, one per
    entry of the observation the policy reads.
    """
    names = EnvSettings(split_kwargs({**env_cfg, "scenario": run["scenario_config"]}, {})).feature_names
    return {
        "scenario": run["scenario"],
        "scenario_config": plain(run["scenario_config"]),
        "env_config": plain(run["env_config"]),
        "hyperparams": plain(hp),
        "observation_features": selected_features(hp.get("vec_env_wrapper") or [], names),
    }


def tensorboard_logger(run_dir: Path, resumed_at: int | None) -> Logger:
    """The SB3 logger writing TensorBoard events into ``run_dir``.

    A resumed session (``resumed_at``: the checkpoint's step) first writes ``SessionLog.START`` at
    ``resumed_at + 1``: TensorBoard (and its ``EventAccumulator``) then drops the events of earlier files
    with a step above the checkpoint, which the interrupted session wrote and this one writes again.
    This is what ``SummaryWriter(purge_step=...)`` writes; SB3 creates its writer without one.
    """
    logger = configure(str(run_dir), ["tensorboard"])
    writer = tb_writer(logger)
    if resumed_at is not None and writer is not None:
        from tensorboard.compat.proto.event_pb2 import Event, SessionLog

        writer.file_writer.add_event(Event(step=int(resumed_at) + 1, session_log=SessionLog(status=SessionLog.START)))
        writer.flush()
    return logger


def merge_range(old: Any, new: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The ``{min, max, episodes}`` range over both sessions' capacities (either may be missing)."""
    if new is None:
        return dict(old) if isinstance(old, Mapping) else None
    if not isinstance(old, Mapping) or not {"min", "max", "episodes"} <= set(old):
        return dict(new)
    return {"min": min(float(old["min"]), new["min"]), "max": max(float(old["max"]), new["max"]),
            "episodes": int(old["episodes"]) + int(new["episodes"])}


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
    venv.seed(train_seed_base(seed))  # the model's constructor seeded the env with ``seed`` itself (SB3 does)
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


def _resume_setup(run_dir, algo, scenario, timesteps, overrides, hyperparams_file, trust_pickle):
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
    if not trust_pickle:
        raise TinySimError(
            "resume: continuing a run loads its optimiser state from the checkpoint's SB3 zip, which runs "
            "code when it is unpickled; pass --trust-pickle if you trust this run directory"
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
