"""What a training run writes to TensorBoard beside its scalars: a custom-scalars layout and HParams.

* :func:`write_layout`: the Custom Scalars dashboard (``tinysim`` category): the training episodes' and the
  held-out evaluations' weighted accuracy on one chart, the model shares, energy and operating time.
* :func:`write_hparams`: the HParams dashboard: the run's hyperparameters (algorithm, scenario, seed and
  every scalar setting; lists and mappings as their JSON text) with its final figures as the metrics
  (``final/*`` scalars written at the last step), so runs compare in one table.

Both go into the run's event file through the SB3 logger's writer (the HParams summaries as SB3's TensorBoard
output writes them for its ``HParam`` object), so a resumed run adds to the same run directory.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from stable_baselines3.common.logger import Logger, TensorBoardOutputFormat
from torch.utils.tensorboard.summary import hparams as hparams_summaries

#: the Custom Scalars layout: category -> chart title -> ["Multiline", tag regexes]
LAYOUT: dict[str, dict[str, list[Any]]] = {
    "tinysim": {
        "weighted accuracy (%): training episodes and held-out evaluations":
            ["Multiline", ["tinysim/weighted_accuracy", "rollout/ep_weighted_accuracy", "eval/weighted_accuracy"]],
        "share of each model (training episodes)": ["Multiline", [r"tinysim/share/model_.*"]],
        "operating time (s)": ["Multiline", ["tinysim/operating_time_s", "eval/operating_time_s"]],
        "energy (mAh) and state of charge at the end":
            ["Multiline", ["tinysim/energy_mah", "eval/energy_mah", "tinysim/soc_end", "eval/soc_end"]],
        "dropped samples": ["Multiline", ["tinysim/dropped", "eval/dropped"]],
    },
}

def tb_writer(logger: Logger) -> Any:
    """The TensorBoard ``SummaryWriter`` behind an SB3 logger (None without TensorBoard output)."""
    for fmt in getattr(logger, "output_formats", []):
        if isinstance(fmt, TensorBoardOutputFormat):
            return fmt.writer
    return None


def write_layout(logger: Logger) -> None:
    """Write :data:`LAYOUT` to the run's event file (the Custom Scalars dashboard reads the latest)."""
    writer = tb_writer(logger)
    if writer is not None:
        writer.add_custom_scalars(LAYOUT)
        writer.flush()


def hparam_values(hp: Mapping[str, Any], **run: str | int | float | bool) -> dict[str, str | int | float | bool]:
    """The hyperparameters as HParams values: numbers, strings and booleans as they are, others as JSON.

    Args:
        hp: the validated hyperparameters of the run.
        **run: further columns (``algo``, ``scenario``, ``seed``), placed first.
    """
    out: dict[str, str | int | float | bool] = dict(run)
    for key, value in hp.items():
        if isinstance(value, bool | int | float | str):
            out[key] = value
        else:
            out[key] = json.dumps(value, sort_keys=True, default=repr)
    return out


def write_hparams(logger: Logger, hparams: Mapping[str, str | int | float | bool], final: Mapping[str, float],
                  step: int) -> None:
    """Write the run's final figures as ``final/<name>`` scalars at ``step`` and the HParams summary.

    Args:
        logger: the run's SB3 logger.
        hparams: :func:`hparam_values` of the run.
        final: the figures to compare runs by (held-out weighted accuracy, ...).
        step: the run's last step.
    """
    writer = tb_writer(logger)
    if not final or writer is None:
        return
    metrics = {f"final/{k}": float(v) for k, v in final.items()}
    for key, value in metrics.items():
        writer.add_scalar(key, value, int(step))
    # what SB3's TensorBoard output does with an HParam, without a logger dump: a dump would write the
    # pending losses of the last update a second time at this step
    for summary in hparams_summaries(dict(hparams), metric_dict=metrics):
        writer.file_writer.add_summary(summary)
    writer.flush()
