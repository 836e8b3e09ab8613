"""Print the README's tables of the physical models and of the published boards and profiles.

The parameters are read from the config schema and the figures from the built-in configs, so the tables
follow the code: ``python benchmarks/physics_table.py`` (Markdown, pasted into the README) or ``--json``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from pydantic import BaseModel

from tinysim_gym.config import builtin_names, load_board, load_profile
from tinysim_gym.config.harvester import CloudsConfig, HarvesterConfig, IndoorLightConfig
from tinysim_gym.config.storage import BatteryConfig, ConverterConfig, KiBaMConfig, PeukertConfig, SupercapConfig

# (model, config class or fields, what it models, source)
MODELS: list[tuple[str, type[BaseModel] | list[str], str, str]] = [
    (
        "battery `kibam`",
        KiBaMConfig,
        "two wells and a valve: rate-capacity and recovery effects, exact per run",
        "Manwell and McGowan; Jongerden and Haverkort's form (`core/kibam.py`)",
    ),
    (
        "battery `peukert`",
        PeukertConfig,
        "usable capacity `C (I_rated / I)^(n - 1)`; charge in counts one for one",
        "Peukert's law (`core/peukert.py`)",
    ),
    (
        "battery restart",
        ["restart_soc", "boot_ms", "boot_current_ma"],
        "off when empty, on again at `restart_soc` of the capacity after the boot cost",
        "`core/restart.py`, `core/off_events.py`",
    ),
    (
        "storage `supercap`",
        SupercapConfig,
        "`1/2 C V^2`, off below `v_off`, boots at `v_on`, leakage",
        "`core/supercap.py`",
    ),
    (
        "converter",
        ConverterConfig,
        "the board's power at `output_v` drawn with `efficiency`, plus `quiescent_ua`",
        "`core/supercap.py`",
    ),
    (
        "harvester `pvlib`",
        ["latitude", "longitude", "start", "tz", "panel_area_cm2", "efficiency", "charge_v", "step_min"],
        "clear-sky irradiance on a horizontal panel, in bulk on a grid",
        "pvlib Ineichen-Perez with the Linke turbidity climatology (`core/sunlight.py`)",
    ),
    (
        "`clouds`",
        CloudsConfig,
        "daily clearness AR(1), intra-day lognormal AR(1), capped at the clear sky",
        "seeded process (`core/sunlight.py`)",
    ),
    ("`indoor`", IndoorLightConfig, "`lux / lm_per_w` W/m^2 during the lit hours", "`core/sunlight.py`"),
    ("harvester `trace`", ["trace", "trace_units"], "a CSV of current (mA) or irradiance (W/m^2)", "`core/harvest.py`"),
]


def _fields(spec: type[BaseModel] | list[str]) -> list[str]:
    if isinstance(spec, list):
        known = set(HarvesterConfig.model_fields) | set(BatteryConfig.model_fields)
        missing = [f for f in spec if f not in known]
        if missing:
            raise SystemExit(f"physics_table: fields not in the schema: {missing}")
        return spec
    return [f for f in spec.model_fields if f != "kind"]


def model_rows() -> list[dict[str, Any]]:
    return [{"model": m, "parameters": _fields(s), "models": what, "source": src} for m, s, what, src in MODELS]


def published_rows() -> list[dict[str, Any]]:
    """One row per published model: its profile, board, figures and the file they come from."""
    boards = {n: load_board(n) for n in builtin_names("boards")}
    rows = []
    for name in builtin_names("profiles"):
        prof = load_profile(name)
        if not prof.source:
            continue
        supply_v = boards[prof.board].supply_v if prof.board else None
        for m in prof.models:
            charge = m.charge_uah(supply_v) if m.energy_uj is not None else None
            rows.append(
                {
                    "profile": name,
                    "board": prof.board,
                    "model": str(m.id),
                    "accuracy": m.accuracy,
                    "latency_ms": m.latency_ms,
                    "energy_uj": m.energy_uj,
                    "charge_uah": charge,
                    "ram_kb": m.ram_kb,
                    "flash_kb": m.flash_kb,
                    "source": m.source or prof.source,
                }
            )
    return rows


def board_rows() -> list[dict[str, Any]]:
    out = []
    for n in builtin_names("boards"):
        b = load_board(n)
        if b.active_power_mw is not None:
            out.append(
                {
                    "board": n,
                    "supply_v": b.supply_v,
                    "active_mw": b.active_power_mw,
                    "idle_mw": b.idle_power_mw,
                    "ram_kb": b.ram_kb,
                    "flash_kb": b.flash_kb,
                    "source": b.source,
                }
            )
    return out


def _md(rows: list[dict[str, Any]]) -> str:
    keys = list(rows[0])

    def cell(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, list):
            return ", ".join(f"`{x}`" for x in v)
        if isinstance(v, float):
            return f"{v:.6g}"
        return str(v)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    args = p.parse_args()
    tables = {"models": model_rows(), "boards": board_rows(), "published": published_rows()}
    if args.json:
        print(json.dumps(tables, indent=1))
        return
    print("\n\n".join(_md(rows) for rows in tables.values()))


if __name__ == "__main__":
    main()
