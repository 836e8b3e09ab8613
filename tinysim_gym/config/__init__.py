"""Scenario configuration: the validated schema, randomisation, and loading of built-in or user files.

Everything the simulation needs about a device and its workload comes through here as an immutable
pydantic model; nothing below this room knows about files.
"""

from tinysim_gym.config.schema import (
    KINDS,
    MAX_FILE_BYTES,
    RANDOMIZABLE,
    BatteryConfig,
    BoardConfig,
    HarvesterConfig,
    MMPPConfig,
    ModelConfig,
    ProfileConfig,
    ScenarioConfig,
    WorkloadConfig,
    builtin_names,
    builtin_root,
    load_board,
    load_profile,
    load_scenario,
    read_csv_columns,
    read_mapping,
    resolve_ref,
    sample_scenario,
    scenario_from_mapping,
    validate,
)

__all__ = [
    "KINDS",
    "MAX_FILE_BYTES",
    "RANDOMIZABLE",
    "BatteryConfig",
    "BoardConfig",
    "HarvesterConfig",
    "MMPPConfig",
    "ModelConfig",
    "ProfileConfig",
    "ScenarioConfig",
    "WorkloadConfig",
    "builtin_names",
    "builtin_root",
    "load_board",
    "load_profile",
    "load_scenario",
    "read_csv_columns",
    "read_mapping",
    "resolve_ref",
    "sample_scenario",
    "scenario_from_mapping",
    "validate",
]
