"""Run every baseline on one scenario, side by side with the optimal-policy bound.

:func:`compare` runs each (policy, seed) pair as one task on a process pool, shows a progress bar on
stderr, and returns one row per policy (the bound last). :func:`write_csv` and :func:`write_plots` save
them (atomically: a temporary file in the same directory, then ``os.replace``); :func:`format_table`
renders the table the ``tinysim compare`` command prints.
"""

from __future__ import annotations

import csv
import io
import math
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from tinysim_gym.atomic import write_bytes, write_text
from tinysim_gym.optimal.lp import bound
from tinysim_gym.config import ScenarioConfig, load_scenario
from tinysim_gym.errors import TinySimError

#: Columns of :func:`format_table`: (row key, header, format).
TABLE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("policy", "policy", "{}"),
    ("weighted_accuracy", "weighted acc %", "{:.3f}"),
    ("operating_time_ms", "operating time s", "{:.3f}"),
    ("inferences", "inferences", "{:.0f}"),
    ("dropped", "dropped", "{:.0f}"),
    ("energy_mah", "energy mAh", "{:.6f}"),
)


class Rows(list):
    """The rows of a comparison (a plain list of dicts for JSON), plus what the plots need.

    Attributes:
        scenario: the scenario compared.
        usage: policy -> model usage over time of its first seed (``{"time_ms": [...], "counts": [[...]]}``,
            cumulative inferences per model, and ``"model_ids"``), for the policy ``usage_policy``.
        usage_policy: the policy whose usage was recorded (``None``: none).
        elapsed_s: wall time of the comparison.
    """

    scenario: ScenarioConfig | None = None
    usage: dict[str, dict[str, Any]]
    usage_policy: str | None = None
    elapsed_s: float = 0.0

    def __init__(self, rows: Iterable[dict[str, Any]] = ()) -> None:
        super().__init__(rows)
        self.usage = {}


# --------------------------------------------------------------------------------------------- running


def _policy_list(policies: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """Normalise ``policies`` to ``[(label, name, params)]``."""
    import baselines

    if policies is None:
        return [(n, n, {}) for n in baselines.names()]
    if isinstance(policies, str):
        policies = [policies]
    out: list[tuple[str, str, dict[str, Any]]] = []
    items = policies.items() if isinstance(policies, Mapping) else policies
    for item in items:
        if isinstance(item, str):
            label, name, params = item, item, {}
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Mapping):
            label, name, params = item[0], item[0], dict(item[1])
            if "policy" in params:  # {"budget-w8": {"policy": "budget", "window": 8}}
                name = params.pop("policy")
        else:
            raise TinySimError(f"policies: expected names or (name, params) pairs, got {item!r}")
        out.append((str(label), str(name), params))
    for _, name, params in out:  # fail fast, in this process, with the registry's one-line errors
        baselines.make(name, None, **params)
    labels = [lab for lab, _, _ in out]
    dup = sorted({lab for lab in labels if labels.count(lab) > 1})
    if dup:
        raise TinySimError(f"policies: {dup[0]!r} appears twice")
    return out


def _run_task(
    scenario: ScenarioConfig, name: str, params: dict[str, Any], seed: int, points: int
) -> tuple[dict[str, Any], dict[str, Any] | None, float]:
    """One episode (in a worker): metrics, optional usage timeline, seconds."""
    import baselines
    from tinysim_gym.core.engine import Engine

    t0 = time.perf_counter()
    chunk = 1 << 16
    if points > 0:
        chunk = int(min(1 << 16, max(64, _expected_decisions(scenario) // points)))
    engine = Engine(scenario, chunk=chunk)
    policy = baselines.make(name, None, **params)
    usage: dict[str, Any] | None = None
    progress = None
    if points > 0:
        times: list[float] = [0.0]
        counts: list[list[int]] = [[0] * engine.n_models]

        def progress(_fraction: float) -> None:
            times.append(engine.time_ms)
            counts.append([int(c) for c in engine.model_counts])

    metrics = baselines.run_episode(engine, policy, seed=seed, progress=progress)
    if points > 0:
        times[-1] = metrics["operating_time_ms"]
        usage = {"time_ms": times, "counts": counts, "model_ids": list(engine.model_ids)}
    return metrics, usage, time.perf_counter() - t0


def _expected_decisions(scenario: ScenarioConfig) -> int:
    try:
        b = bound(scenario)
        return int(max(b.arrivals, 1.0))
    except TinySimError:
        return 1 << 16


def mean_row(label: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Average the runs' metrics: numbers by their mean, model counts per model, other values if equal.

    ``seed`` becomes the list of seeds (a single seed stays as it is).
    """
    row: dict[str, Any] = {"policy": label}
    for key in runs[0]:
        vals = [r[key] for r in runs]
        if key == "seed":
            row[key] = vals[0] if len(runs) == 1 else vals
        elif key == "model_counts":
            row[key] = {mid: float(np.mean([v[mid] for v in vals])) for mid in vals[0]}
            if len(runs) == 1:
                row[key] = dict(vals[0])
        elif all(isinstance(v, bool) for v in vals) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in vals
        ):
            uniq = list(dict.fromkeys(vals))
            row[key] = uniq[0] if len(uniq) == 1 else uniq
        elif len(runs) == 1:
            row[key] = vals[0]
        else:
            row[key] = float(np.mean(vals))
    row["seeds"] = len(runs)
    if len(runs) > 1:
        row["weighted_accuracy_std"] = float(np.std([r["weighted_accuracy"] for r in runs], ddof=1))
    return row


def compare(
    scenario: ScenarioConfig | str,
    policies: Any = None,
    seeds: int | Sequence[int] = 1,
    processes: int | None = None,
    progress: bool = True,
    usage_policy: str | None = "auto",
    usage_points: int = 200,
    executor: Executor | None = None,
) -> Rows:
    """Run every baseline on ``scenario`` and return one row per policy, the bound last.

    Args:
        scenario: a scenario config, built-in name or path.
        policies: ``None`` (every baseline in :func:`baselines.names`), a list of names, or a mapping
            ``label -> params`` (``params`` may hold ``"policy": name`` to run one baseline under several
            labels).
        seeds: number of seeds (``0 .. seeds-1``) or an explicit list. A seed-compatible scenario replays
            the original's stream whatever the seed, so it runs one seed.
        processes: worker processes (default: the CPU count, at most the number of tasks); 1 runs in this
            process.
        progress: show a rich progress bar on stderr.
        usage_policy: the policy whose model usage over time is recorded for :func:`write_plots`, from one
            extra episode of its first seed (``"auto"``: ``budget`` when compared, else the most accurate;
            ``None``: none).
        usage_points: about how many points that timeline gets (0: none).
        executor: reuse an existing process pool (``processes`` is then ignored).

    Returns:
        :class:`Rows`, a list of dicts. Each row has ``policy`` and every key of ``Engine.metrics()``;
        with several seeds a numeric value is the **mean over seeds** (the weighted accuracy too: the mean
        of each seed's weighted accuracy, not a pooled ratio; its sample standard deviation is
        ``weighted_accuracy_std``), ``model_counts`` holds the mean count per model, any other value is
        kept when all seeds agree and becomes the list of distinct values otherwise, and ``seeds`` says
        how many runs were averaged. The last row is the bound (``policy = "bound"``,
        :meth:`~tinysim_gym.optimal.lp.BoundResult.as_row`).

    Raises:
        TinySimError: unknown policy or bad parameters (checked before anything runs).
    """
    t_start = time.perf_counter()
    sc = scenario if isinstance(scenario, ScenarioConfig) else load_scenario(scenario)
    plist = _policy_list(policies)
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise TinySimError(f"seeds: expected a count >= 1 or a list of seeds, got {seeds}")
        seed_list = list(range(seeds))
    else:
        seed_list = [int(s) for s in seeds]
        if not seed_list:
            raise TinySimError("seeds: the list of seeds is empty")
    if sc.seed_compat:
        seed_list = seed_list[:1]
    labels = [lab for lab, _, _ in plist]
    if usage_policy not in (None, "auto") and usage_policy not in labels:
        raise TinySimError(f"usage_policy: {usage_policy!r} is not compared (allowed: {', '.join(labels)})")
    if usage_policy == "auto" and "budget" in labels:
        usage_policy = "budget"
    by_label = {lab: (name, params) for lab, name, params in plist}
    # the timeline comes from its own episode with small arrival chunks, so the metrics never depend on it
    tasks = [(lab, name, params, seed, 0) for lab, name, params in plist for seed in seed_list]
    if usage_policy not in (None, "auto") and usage_points > 0:
        tasks.append((usage_policy, *by_label[usage_policy], seed_list[0], usage_points))
    results: dict[tuple[str, int], dict[str, Any]] = {}
    usage: dict[str, dict[str, Any]] = {}
    n_proc = processes if processes is not None else (os.cpu_count() or 1)
    n_proc = max(1, min(n_proc, len(tasks)))
    late = usage_policy == "auto" and usage_points > 0
    total = len(tasks) + (1 if late else 0)
    own = executor is None and n_proc > 1
    pool = ProcessPoolExecutor(max_workers=n_proc) if own else executor
    try:
        # submit before the progress bar starts its thread: the pool forks its workers on the first submit
        futures = {pool.submit(_run_task, sc, *task[1:]): task for task in tasks} if pool is not None else {}
        with _Progress(progress, f"{sc.name}: {len(plist)} policies x {len(seed_list)} seeds", total) as bar:

            def done(task: tuple[Any, ...], out: tuple[dict[str, Any], dict[str, Any] | None, float]) -> None:
                lab, _, _, seed, pts = task
                if pts:
                    usage[lab] = out[1] or {}
                else:
                    results[(lab, seed)] = out[0]
                bar.advance(lab)

            if pool is None:
                for task in tasks:
                    done(task, _run_task(sc, *task[1:]))
            for fut in as_completed(futures):
                done(futures[fut], fut.result())
            rows = Rows(mean_row(lab, [results[(lab, s)] for s in seed_list]) for lab, _, _ in plist)
            if late and rows:
                usage_policy = max(rows, key=lambda r: r["weighted_accuracy"])["policy"]
                task = (usage_policy, *by_label[usage_policy], seed_list[0], usage_points)
                done(task, _run_task(sc, *task[1:]))
    finally:
        if own and pool is not None:
            pool.shutdown(cancel_futures=True)
    rows.append(bound(sc).as_row())
    rows.scenario = sc
    rows.usage = usage
    rows.usage_policy = usage_policy if usage_policy != "auto" else None
    rows.elapsed_s = time.perf_counter() - t_start
    return rows


class _Progress:
    """A rich progress bar on stderr counting finished tasks (a no-op when disabled)."""

    def __init__(self, enabled: bool, description: str, total: int) -> None:
        self.enabled = enabled
        self.description = description
        self.total = total
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(file=sys.stderr),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=self.total)
        return self

    def advance(self, label: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=f"{self.description} (done: {label})")

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=self.description)
            self._bar.stop()


# --------------------------------------------------------------------------------------------- output


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """A fixed-width text table: policy, weighted accuracy, operating time, inferences, dropped, energy."""
    head = [h for _, h, _ in TABLE_COLUMNS]
    body = []
    for r in rows:
        cells = []
        for key, _, fmt in TABLE_COLUMNS:
            v = r.get(key)
            if key == "operating_time_ms" and isinstance(v, int | float):
                v = v / 1000.0
            cells.append("-" if v is None else fmt.format(v) if isinstance(v, int | float | str) else str(v))
        body.append(cells)
    widths = [max(len(head[i]), *(len(c[i]) for c in body)) if body else len(head[i]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs)

    out = [line(head), "  ".join("-" * w for w in widths)]
    out += [line(c) for c in body]
    return "\n".join(out)


def _flat(rows: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """Rows with ``model_counts`` spread into ``model_<id>`` columns; list values joined with ``|``."""
    keys: list[str] = []
    flat = []
    for r in rows:
        f: dict[str, Any] = {}
        for k, v in r.items():
            if k == "model_counts" and isinstance(v, Mapping):
                for mid, c in v.items():
                    f[f"model_{mid}"] = c
            elif isinstance(v, list | tuple):
                f[k] = "|".join(str(x) for x in v)
            else:
                f[k] = v
        for k in f:
            if k not in keys:
                keys.append(k)
        flat.append(f)
    return keys, flat


def write_csv(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write the rows as CSV (one column per key; ``model_counts`` as ``model_<id>`` columns); atomic."""
    keys, flat = _flat(rows)

    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=keys, restval="", extrasaction="ignore")
    w.writeheader()
    for f in flat:
        w.writerow({k: ("" if v is None else v) for k, v in f.items()})
    return write_text(path, buf.getvalue())


def pareto_frontier(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Policies no other policy beats on both operating time and weighted accuracy (the bound excluded)."""
    pts = [(r["policy"], float(r["operating_time_ms"]), float(r["weighted_accuracy"])) for r in rows
           if r.get("policy") != "bound"]
    front = []
    for p, t, a in pts:
        if not any((t2 >= t and a2 >= a) and (t2 > t or a2 > a) for _, t2, a2 in pts):
            front.append(p)
    return sorted(front, key=lambda p: next(t for q, t, _ in pts if q == p))


def write_plots(
    rows: Sequence[Mapping[str, Any]],
    path: str | os.PathLike[str],
    policy: str | None = None,
    usage: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> Path:
    """Save a PNG: the trade-off frontier (operating time vs weighted accuracy) and model usage over time.

    Args:
        rows: rows from :func:`compare`.
        path: the PNG to write (atomically).
        policy: whose model usage to plot (default: the one :func:`compare` recorded).
        usage: that policy's timeline, if ``rows`` is not a :class:`Rows` that carries it.
        title: figure title (default: the scenario name).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    recorded = getattr(rows, "usage", {}) or {}
    if usage is None:
        if policy is None:
            policy = getattr(rows, "usage_policy", None) or next(iter(recorded), None)
        usage = recorded.get(policy) if policy is not None else None
    sc = getattr(rows, "scenario", None)
    title = title or (sc.name if sc is not None else "comparison")

    fig = Figure(figsize=(12, 4.8), dpi=110)
    ax1, ax2 = fig.subplots(1, 2)
    front = set(pareto_frontier(rows))
    pts = [r for r in rows if r.get("policy") != "bound"]
    groups: dict[tuple[float, float], list[str]] = {}  # policies on the same spot share one label
    for r in pts:
        key = (round(float(r["operating_time_ms"]) / 1000.0, 3), round(float(r["weighted_accuracy"]), 2))
        groups.setdefault(key, []).append(str(r["policy"]))
    for (t, a), names in groups.items():
        on = any(p in front for p in names)
        ax1.scatter([t], [a], s=40 if on else 25, color="C0" if on else "0.55", zorder=3)
        ax1.annotate(", ".join(names), (t, a), textcoords="offset points", xytext=(4, 4), fontsize=8)
    fr = sorted((float(r["operating_time_ms"]) / 1000.0, float(r["weighted_accuracy"])) for r in pts
                if r["policy"] in front)
    if fr:
        ax1.plot([p[0] for p in fr], [p[1] for p in fr], color="C0", lw=1, label="frontier")
    b = next((r for r in rows if r.get("policy") == "bound"), None)
    if b is not None:
        ax1.axhline(float(b["weighted_accuracy"]), color="C3", ls="--", lw=1,
                    label=f"bound {float(b['weighted_accuracy']):.2f} %")
        ax1.scatter([float(b["operating_time_ms"]) / 1000.0], [float(b["weighted_accuracy"])], marker="*",
                    s=160, facecolors="none", edgecolors="C3", zorder=4)
    ax1.set_xlabel("operating time (s)")
    ax1.set_ylabel("weighted accuracy (%)")
    ax1.set_title("trade-off frontier")
    ax1.grid(alpha=0.3)
    ax1.legend(loc="lower right", fontsize=8)

    if usage:
        t = np.asarray(usage["time_ms"], dtype=np.float64) / 1000.0
        c = np.asarray(usage["counts"], dtype=np.float64)
        ids = usage.get("model_ids") or [str(i) for i in range(c.shape[1])]
        if len(t) >= 2:
            d = np.diff(c, axis=0)
            tot = d.sum(axis=1, keepdims=True)
            share = np.divide(d, tot, out=np.zeros_like(d), where=tot > 0)
            mid = t[1:]
            used = [k for k in range(c.shape[1]) if c[-1, k] > 0]
            ax2.stackplot(mid, *[share[:, k] for k in used], labels=[f"model {ids[k]}" for k in used], step="pre")
            ax2.set_ylim(0, 1)
            ax2.legend(loc="upper right", fontsize=7, ncol=2)
        ax2.set_title(f"model usage over time: {policy}")
        ax2.set_xlabel("time (s)")
        ax2.set_ylabel("share of inferences")
    else:
        ax2.text(0.5, 0.5, "no usage timeline recorded", ha="center", va="center", transform=ax2.transAxes)
        ax2.set_axis_off()
    fig.suptitle(title)
    fig.tight_layout()

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return write_bytes(path, buf.getvalue())


def rows_json(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows as plain JSON-ready dicts (NaN/inf become None)."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, Mapping):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        if isinstance(v, np.generic):
            return v.item()
        return v

    return [{k: clean(v) for k, v in r.items()} for r in rows]
