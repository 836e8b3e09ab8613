"""The agents shipped with the package: ``pretrained:<task>``, one per suite task.

Each lives in ``agents/pretrained/<task>/`` as the safe pair (``best_model.safetensors``, weights only, and
``best_model.agent.json``, a validated description) with the ``run.yaml`` of the run that trained it, so
``tinysim evaluate --agent pretrained:<task>`` and ``tinysim suite run --agents pretrained`` work on a fresh
install and never unpickle anything. :func:`install_pretrained` copies a trained run's best model there.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from agents.run_dir import RUN_FILE, find_run_file
from tinysim_gym.errors import TinySimError

PREFIX = "pretrained:"
ROOT = Path(__file__).resolve().parent / "pretrained"
MODEL = "best_model"


def pretrained_tasks() -> list[str]:
    """The tasks that have a shipped agent, sorted."""
    if not ROOT.is_dir():
        return []
    return sorted(d.name for d in ROOT.iterdir() if (d / f"{MODEL}.agent.json").is_file())


def is_pretrained(ref: object) -> bool:
    """Whether ``ref`` names a shipped agent (``pretrained:<task>``)."""
    return isinstance(ref, str) and ref.startswith(PREFIX)


def pretrained_path(ref: str) -> Path:
    """The model path (``.../<task>/best_model.zip``, whose safe pair is shipped) of ``pretrained:<task>``.

    Raises:
        TinySimError: no shipped agent for that task (one line naming those there are).
    """
    task = ref[len(PREFIX):]
    have = pretrained_tasks()
    if task not in have:
        raise TinySimError(f"agent: no pretrained agent {ref!r} (shipped: "
                           f"{', '.join(PREFIX + t for t in have) or 'none'})")
    return ROOT / task / f"{MODEL}.zip"


def install_pretrained(model: str | Path, task: str, root: Path = ROOT) -> Path:
    """Copy a trained model's safe pair and its ``run.yaml`` to ``root/<task>/`` (the package's shipped agents)."""
    src = Path(model)
    stem = src.with_suffix("").with_suffix("") if src.name.endswith(".agent.json") else src.with_suffix("")
    pair = [stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".agent.json")]
    run = find_run_file(src) / RUN_FILE
    if not all(p.is_file() for p in pair):
        raise TinySimError(f"pretrained: {str(src)!r} has no safe pair beside it")
    dest = root / task
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(pair[0], dest / f"{MODEL}.safetensors")
    shutil.copyfile(pair[1], dest / f"{MODEL}.agent.json")
    shutil.copyfile(run, dest / RUN_FILE)
    return dest
