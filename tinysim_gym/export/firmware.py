"""An export's Cortex-M footprint: flash and RAM from the cross-compiled object, time and charge per decision.

The export is compiled for the target (``arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard
-mfpu=fpv4-sp-d16 -Os``, one section per function and object) and measured with ``arm-none-eabi-size -A``;
sections of the observation builder (``tinysim_obs_*``) and of the policy are counted apart. The stack of
one decision comes from GCC's ``-fstack-usage``. Cycles per decision are the manifest's operation count
(:mod:`tinysim_gym.export.cycles`), converted to microseconds and micro-amp-hours at the board's clock
and inference current: what ``tinysim evaluate --selector-cost DIR`` then charges per decision.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tinysim_gym.config import ScenarioConfig
from tinysim_gym.errors import TinySimError
from tinysim_gym.export.cycles import micro_amp_hours, microseconds

ARM_FLAGS = ("-std=c99", "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os",
             "-ffunction-sections", "-fdata-sections", "-fstack-usage", "-Wall", "-Wextra", "-Werror")
FIRMWARE = "firmware.json"
_OBS_PREFIXES = ("tinysim_obs_", "tinysim_min_", "tinysim_max_")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise TinySimError(f"firmware: {name} is not installed (make firmware installs gcc-arm-none-eabi)")
    return path


def _sections(obj: Path) -> dict[str, int]:
    out = subprocess.run([_tool("arm-none-eabi-size"), "-A", str(obj)], capture_output=True, text=True, check=True)
    sizes: dict[str, int] = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


def measure(export_dir: str | os.PathLike[str], clock_mhz: float, current_ma: float) -> dict[str, Any]:
    """Cross-compile the export in ``export_dir`` and measure it; also written to ``DIR/firmware.json``."""
    d = Path(export_dir)
    manifest = json.loads((d / "manifest.json").read_text())
    work = Path(tempfile.mkdtemp(prefix="tinysim-firmware-"))
    try:
        for name in ("tinysim_policy.h", "tinysim_policy.c"):
            shutil.copy(d / name, work / name)
        res = subprocess.run([_tool("arm-none-eabi-gcc"), *ARM_FLAGS, "-c", "tinysim_policy.c", "-o", "policy.o"],
                             cwd=work, capture_output=True, text=True)
        if res.returncode != 0:
            raise TinySimError(f"firmware: {d} does not compile for the Cortex-M4: {res.stderr.strip()[:1000]}")
        sections = _sections(work / "policy.o")
        stack = {}
        for line in (work / "policy.su").read_text().splitlines():
            fields = line.split("\t")
            if len(fields) >= 2:
                stack[fields[0].rsplit(":", 1)[-1]] = int(fields[1])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    flash = {"policy": 0, "obs_builder": 0}
    ram = {"policy": 0, "obs_builder": 0}
    for name, size in sections.items():
        kind = next((k for k in (".text", ".rodata", ".data", ".bss") if name.startswith(k)), None)
        if kind is None:
            continue
        part = "obs_builder" if any(p in name for p in _OBS_PREFIXES) else "policy"
        if kind in (".text", ".rodata", ".data"):
            flash[part] += size
        if kind in (".data", ".bss"):
            ram[part] += size
    act_stack = max((v for k, v in stack.items() if k.startswith("tinysim_policy_act")), default=0)
    inner = max((v for k, v in stack.items() if k == "tinysim_input_" or k.startswith("tinysim_policy_decide")),
                default=0)
    cycles = int(manifest["footprint"]["cycles_per_decision"])
    us = microseconds(cycles, clock_mhz)
    result = {
        "export": str(d),
        "policy": manifest["policy"],
        "quantization": manifest["quantization"],
        "flash_bytes": flash,
        "static_ram_bytes": ram,
        "stack_bytes_per_decision": act_stack + inner,
        "ram_bytes_per_decision": ram["policy"] + act_stack + inner,
        "obs_state_bytes": int(manifest["footprint"]["obs_state_bytes"]),
        "libm": manifest.get("libm", []),
        "cycles_per_decision": cycles,
        "clock_mhz": clock_mhz,
        "inference_current_ma": current_ma,
        "us_per_decision": us,
        "uah_per_decision": micro_amp_hours(cycles, clock_mhz, current_ma),
        "flags": " ".join(ARM_FLAGS),
    }
    (d / FIRMWARE).write_text(json.dumps(result, indent=2) + "\n")
    return result


def selector_latency_ms(export_dir: str | os.PathLike[str], clock_mhz: float = 80.0) -> float:
    """The time one decision of the export takes, in ms: measured by :func:`measure`, else the manifest's count.

    Raises:
        TinySimError: a directory without an export (one line).
    """
    d = Path(export_dir)
    fw, man = d / FIRMWARE, d / "manifest.json"
    try:
        if fw.is_file():
            return float(json.loads(fw.read_text())["us_per_decision"]) / 1000.0
        cycles = int(json.loads(man.read_text())["footprint"]["cycles_per_decision"])
    except (OSError, ValueError, KeyError, TypeError):
        raise TinySimError(f"--selector-cost: {str(d)!r} holds no export (manifest.json from tinysim export)") from None
    return microseconds(cycles, clock_mhz) / 1000.0


def with_selector_cost(scenario: ScenarioConfig, export_dir: str | os.PathLike[str],
                       clock_mhz: float = 80.0) -> ScenarioConfig:
    """``scenario`` with the export's time per decision as its profile's ``selector_latency_ms``.

    The engine adds the selector latency to every model's latency, so the inference current is drawn for
    it as well: the export's charge per decision.
    """
    ms = selector_latency_ms(export_dir, clock_mhz)
    return scenario.model_copy(update={"profile": scenario.profile.model_copy(update={"selector_latency_ms": ms})})
