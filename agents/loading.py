"""Loading a saved agent: the safe pair by default, a raw SB3 zip only when its source is trusted.

A model saved by ``tinysim train`` has two forms beside each other: the SB3 ``.zip`` (with
``<stem>_vecnormalize.pkl`` when ``VecNormalize`` is used), which SB3 loads by unpickling, so loading it runs
whatever code the file names; and the safe pair ``<stem>.safetensors`` + ``<stem>.agent.json``
(:mod:`agents.safe_format`), which holds numbers and a strictly validated description only.
:func:`load_agent` reads the safe pair; it unpickles a zip that has no pair only when asked to
(``trust_pickle=True``, ``--trust-pickle`` on the command line).
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecNormalize

from agents import hyperparams as H
from agents.callbacks import vecnormalize_path
from agents.pretrained import is_pretrained, pretrained_path
from agents.run_dir import find_run_file, read_run
from agents.safe_agent import ObsNormalizer, SafeAgent
from agents.safe_format import load_safe, safe_paths
from tinysim_gym.config import ScenarioConfig
from tinysim_gym.errors import TinySimError


@dataclass
class Agent:
    """A saved agent ready to act: the model, its VecNormalize statistics (or None) and its run.

    ``model`` is a :class:`~agents.safe_agent.SafeAgent` (loaded from the safe pair; it normalises its own
    observations, and ``normalizer`` is its saved statistics, for inspection) or, only with
    ``trust_pickle``, the unpickled SB3 model and its ``VecNormalize``.
    """

    path: Path
    algo: str
    model: BaseAlgorithm | SafeAgent
    normalizer: VecNormalize | ObsNormalizer | None
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


def load_agent(path: str | os.PathLike[str], trust_pickle: bool = False) -> Agent:
    """Load a model saved by ``tinysim train``, from its safe pair; a raw SB3 zip only if trusted.

    Args:
        path: a run directory (its ``best_model``), a model's ``.zip``, ``.agent.json`` or
            ``.safetensors`` (``best_model``, ``final_model`` or a checkpoint), or ``pretrained:<task>``
            (an agent shipped with the package, :mod:`agents.pretrained`).
        trust_pickle: unpickle a ``.zip`` (and its ``_vecnormalize.pkl``) that has no safe pair beside it.
            Unpickling runs whatever code the file names, so only for files from a trusted source.

    Raises:
        TinySimError: a missing or unreadable model, a safe pair of another algorithm than its run, or a
            raw zip without ``trust_pickle`` (one line).
    """
    p = pretrained_path(path) if is_pretrained(path) else Path(path)
    if p.is_dir():
        p = p / "best_model.zip"
    pair = safe_paths(p)
    if pair.description.is_file():
        run = _run_of(pair.description)
        algo = H.canonical_algo(run["algo"])
        safe = load_safe(pair.description)
        if safe.algo != algo:
            raise TinySimError(f"agent: {str(pair.description)!r} holds a {safe.algo} policy but its run "
                               f"trains {algo}")
        return Agent(p, algo, safe, safe.normalizer, run)
    if not p.is_file():
        raise TinySimError(f"agent: {str(p)!r} does not exist")
    if p.suffix != ".zip":
        raise TinySimError(f"agent: {str(p)!r} is not a saved model (a run directory, .zip, .agent.json "
                           "or .safetensors)")
    if not trust_pickle:
        raise TinySimError(
            f"agent: {str(p)!r} has no safe-format pair beside it ({pair.description.name}); a raw SB3 zip runs "
            "code when it is unpickled, so it loads only with --trust-pickle (for files you trust)"
        )
    return _load_pickled(p, _run_of(p))


def _run_of(model_path: Path) -> dict[str, Any]:
    try:
        return read_run(find_run_file(model_path))
    except TinySimError as exc:
        raise TinySimError(str(exc).replace("resume:", "agent:", 1)) from None


def _load_pickled(p: Path, run: dict[str, Any]) -> Agent:
    """The SB3 model of a trusted zip and its ``VecNormalize`` statistics: this unpickles both."""
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
