"""The run directory of a training run: where it goes, its ``run.yaml``, its checkpoints.

``<log_dir>/<scenario>/<algo>_<n>`` holds ``run.yaml`` (algorithm, scenario, hyperparameters, env
config, seed, steps done), the TensorBoard events, ``checkpoints/`` and the best and final models; the
layout is described in :mod:`agents.training`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tinysim_gym.errors import TinySimError

RUN_FILE = "run.yaml"
CHECKPOINT_RE = re.compile(r"^model_(\d+)_steps\.zip$")


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
    tmp.write_text(yaml.safe_dump(plain(data), sort_keys=False), encoding="utf-8")
    os.replace(tmp, run_dir / RUN_FILE)


def plain(x: Any) -> Any:
    """``x`` as plain YAML/JSON values (mappings, lists, strings, numbers)."""
    if isinstance(x, Mapping):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [plain(v) for v in x]
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


def find_run_file(agent_path: Path) -> Path:
    """``run.yaml`` beside the model, or one level up (a checkpoint)."""
    for d in (agent_path.parent, agent_path.parent.parent):
        if (d / RUN_FILE).is_file():
            return d
    raise TinySimError(f"agent: no {RUN_FILE} beside {str(agent_path)!r} (expected a model saved by tinysim train)")
