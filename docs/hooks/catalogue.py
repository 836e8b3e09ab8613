"""The generated catalogue page: every built-in board, model profile and scenario, read from ``configs/``.

Run by mkdocs (``hooks:`` in ``mkdocs.yml``): in ``docs/catalogue.md`` the marker ``<!-- catalogue -->``
becomes the tables, so a config file added under ``configs/`` appears in the next build without any edit
here. Board columns are whatever scalar fields the boards set, so a new field shows up too. Run it as a
script (``python docs/hooks/catalogue.py``) to print the same Markdown.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

MARKER = "<!-- catalogue -->"
ROOT = Path(__file__).resolve().parents[2]
# the checkout's package and configs, not an installed copy that may predate a new config file
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _cell(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _scalar_columns(dumps: Sequence[Mapping[str, Any]]) -> list[str]:
    """The scalar fields set (not None or empty) in at least one config, in schema order."""
    cols: list[str] = []
    for d in dumps:
        for key, value in d.items():
            if key not in cols and not isinstance(value, Mapping | list) and value not in (None, ""):
                cols.append(key)
    return cols


def boards_table() -> str:
    """Every built-in board with each scalar field any board sets."""
    from tinysim_gym.config import builtin_names, load_board

    dumps = [load_board(n).model_dump(mode="json") for n in builtin_names("boards")]
    cols = _scalar_columns(dumps)
    return _table(cols, [[d.get(c) for c in cols] for d in dumps])


def profiles_table() -> str:
    """Every built-in model profile: its set of models and their accuracy and latency ranges."""
    from tinysim_gym.config import builtin_names, load_profile

    rows = []
    for name in builtin_names("profiles"):
        p = load_profile(name)
        acc = [m.accuracy for m in p.models]
        lat = [m.latency_ms for m in p.models]
        rows.append([p.name, p.dataset, p.description, len(p.models), f"{min(acc):g} .. {max(acc):g}",
                     f"{min(lat):g} .. {max(lat):g}", p.selector_latency_ms])
    return _table(["profile", "dataset", "description", "models", "accuracy (%)", "latency (ms)",
                   "selector latency (ms)"], rows)


def scenarios_table() -> str:
    """Every built-in scenario: board, profile, workload, battery, horizon and what else it sets."""
    from tinysim_gym.config import builtin_names, load_scenario

    rows = []
    for name in builtin_names("scenarios"):
        s = load_scenario(name)
        w = s.workload
        extras = [k for k in ("harvester", "storage", "deadline_ms", "randomize") if getattr(s, k, None)]
        model = getattr(s.battery, "model", "linear")
        extras += [f"{model} battery"] if model != "linear" else []
        horizon = "until depleted" if s.horizon_ms is None else f"{s.horizon_ms / 1000:g} s"
        interval = "-" if w.min_interval_ms is None else f"{w.min_interval_ms:g} ms"  # a Poisson stream has none
        rows.append([s.name, s.board.name, s.profile.name, f"{w.mode}, {w.process}, {interval}",
                     w.buffer_size, s.battery.capacity_mah, horizon, "yes" if s.seed_compat else "",
                     ", ".join(extras), s.description])
    return _table(["scenario", "board", "profile", "workload (mode, process, interval)", "buffer",
                   "battery (mAh)", "horizon", "seed-compatible", "also", "description"], rows)


def catalogue() -> str:
    """The three tables with their headings (Markdown)."""
    return "\n\n".join([
        "## Boards (`configs/boards/`)", boards_table(),
        "## Model profiles (`configs/profiles/`)", profiles_table(),
        "## Scenarios (`configs/scenarios/`)", scenarios_table(),
    ])  # fmt: skip


def on_page_markdown(markdown: str, **_kwargs: Any) -> str:
    """Put the tables (a mkdocs hook) where the marker is (pages without it pass unchanged)."""
    return markdown.replace(MARKER, catalogue()) if MARKER in markdown else markdown


if __name__ == "__main__":
    print(catalogue())
