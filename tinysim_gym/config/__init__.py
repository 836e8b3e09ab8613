"""Scenario configuration: the validated schema, randomisation, and loading of built-in or user files.

Everything the simulation needs about a device and its workload comes through here as an immutable
pydantic model; nothing below this room knows about files. The room: :mod:`~tinysim_gym.config.schema` (the
models), :mod:`~tinysim_gym.config.randomize` (domain randomisation), :mod:`~tinysim_gym.config.guards`
(file guards) and :mod:`~tinysim_gym.config.loading` (names, files, overrides and error messages).
"""

from tinysim_gym.config.guards import MAX_FILE_BYTES, read_csv_columns, read_mapping, read_regular, read_regular_text
from tinysim_gym.config.hardware import BoardConfig, ModelConfig, ProfileConfig
from tinysim_gym.config.loading import (
    KINDS,
    builtin_names,
    builtin_root,
    deep_merge,
    device_scenarios,
    load_board,
    load_profile,
    load_scenario,
    randomize_variants,
    resolve_ref,
    sample_scenario,
    scenario_from_mapping,
    validate,
)
from tinysim_gym.config.randomize import RANDOMIZABLE
from tinysim_gym.config.schema import (
    BatteryConfig,
    HarvesterConfig,
    MMPPConfig,
    ScenarioConfig,
    WorkloadConfig,
)
from tinysim_gym.config.storage import ConverterConfig, KiBaMConfig, PeukertConfig, SupercapConfig

__all__ = [
    "KINDS",
    "MAX_FILE_BYTES",
    "RANDOMIZABLE",
    "BatteryConfig",
    "BoardConfig",
    "ConverterConfig",
    "HarvesterConfig",
    "KiBaMConfig",
    "MMPPConfig",
    "ModelConfig",
    "PeukertConfig",
    "ProfileConfig",
    "ScenarioConfig",
    "SupercapConfig",
    "WorkloadConfig",
    "builtin_names",
    "builtin_root",
    "deep_merge",
    "device_scenarios",
    "load_board",
    "load_profile",
    "load_scenario",
    "randomize_variants",
    "read_csv_columns",
    "read_mapping",
    "read_regular",
    "read_regular_text",
    "resolve_ref",
    "sample_scenario",
    "scenario_from_mapping",
    "validate",
]
