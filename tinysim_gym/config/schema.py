"""Validated, typed configuration: boards, model profiles, workloads, batteries and scenarios.

Every config is a pydantic model that rejects unknown keys, NaN and infinities. Configs load from built-in
names (shipped under ``configs/`` and installed as ``tinysim_gym.configs``), from YAML files, and from the
original TinySimulator JSON files (whose keys ``avg_infer_energy_cons``, ``training_accuracy``, ``latency``,
``dataset``, ``description`` and ``_comment*`` stay accepted). Errors are :class:`ConfigError` with a
one-line message naming the field.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tinysim_gym.errors import ConfigError

MAX_FILE_BYTES = 1_000_000
RANDOMIZABLE = (
    "board",
    "profile",
    "workload.min_interval_ms",
    "workload.arrival_probability",
    "workload.rate_hz",
    "battery.capacity_mah",
    "battery.initial_soc",
    "harvester.current_ma",
    "harvester.peak_current_ma",
    "horizon_ms",
)
KINDS = ("boards", "profiles", "scenarios", "agents")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True, frozen=True)


class BoardConfig(_Strict):
    """A microcontroller board: average currents in mA, optional memory sizes."""

    name: str = Field(default="board", min_length=1, max_length=200)
    inference_current_ma: float = Field(
        gt=0, le=1e5, validation_alias=AliasChoices("inference_current_ma", "avg_infer_energy_cons")
    )
    idle_current_ma: float = Field(
        ge=0, le=1e5, validation_alias=AliasChoices("idle_current_ma", "avg_idle_energy_cons")
    )
    ram_kb: float | None = Field(default=None, gt=0, le=1e9)
    flash_kb: float | None = Field(default=None, gt=0, le=1e9)
    description: str = ""


class ModelConfig(_Strict):
    """One pre-profiled model: accuracy in %, latency in ms (the set's selector latency is added)."""

    id: str | int
    accuracy: float = Field(ge=0, le=100, validation_alias=AliasChoices("accuracy", "training_accuracy"))
    latency_ms: float = Field(gt=0, le=1e7, validation_alias=AliasChoices("latency_ms", "latency"))
    ram_kb: float | None = Field(default=None, gt=0, le=1e9)
    flash_kb: float | None = Field(default=None, gt=0, le=1e9)
    inference_current_ma: float | None = Field(default=None, gt=0, le=1e5)
    charge_per_inference_uah: float | None = Field(default=None, gt=0, le=1e9)

    @model_validator(mode="after")
    def _one_energy(self) -> ModelConfig:
        if self.inference_current_ma is not None and self.charge_per_inference_uah is not None:
            raise ValueError("give either inference_current_ma or charge_per_inference_uah, not both")
        return self


class ProfileConfig(_Strict):
    """A model set measured on one board."""

    name: str = Field(default="profile", min_length=1, max_length=200)
    dataset: str = ""
    description: str = ""
    selector_latency_ms: float = Field(
        default=0.0, ge=0, le=1e7, validation_alias=AliasChoices("selector_latency_ms", "selector_latency")
    )
    fuzzy_variant: Literal["tova", "stream"] | None = None
    models: list[ModelConfig] = Field(min_length=1, max_length=1000)

    @field_validator("models")
    @classmethod
    def _unique_ids(cls, models: list[ModelConfig]) -> list[ModelConfig]:
        seen: set[str] = set()
        for m in models:
            key = str(m.id)
            if key in seen:
                raise ValueError(f"duplicate model id {key!r}; ids must be unique")
            seen.add(key)
        return models

    @model_validator(mode="after")
    def _variant(self) -> ProfileConfig:
        if self.fuzzy_variant is None:
            guess = "stream" if ("stream" in self.name or len(self.models) == 4) else "tova"
            object.__setattr__(self, "fuzzy_variant", guess)
        return self

    @property
    def accuracies(self) -> list[float]:
        """Accuracy (%) of each model, in order."""
        return [m.accuracy for m in self.models]

    @property
    def total_latencies_ms(self) -> list[float]:
        """Latency of each model plus the selector latency, in ms."""
        return [m.latency_ms + self.selector_latency_ms for m in self.models]


class MMPPConfig(_Strict):
    """Two-state Markov-modulated Poisson process: arrival rate and rate of leaving each state (per s)."""

    rates_hz: tuple[float, float] = Field(description="arrival rate in state 0 and in state 1")
    switch_hz: tuple[float, float] = Field(description="rate of leaving state 0 and state 1")

    @field_validator("rates_hz", "switch_hz", mode="before")
    @classmethod
    def _pair(cls, v: Any) -> Any:
        if isinstance(v, list):
            v = tuple(v)
        if not isinstance(v, tuple) or len(v) != 2:
            raise ValueError("expected two numbers [state 0, state 1]")
        for x in v:
            if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x) or not 0 < x <= 1e6:
                raise ValueError(f"expected two numbers in (0, 1e6], got {list(v)}")
        return tuple(float(x) for x in v)


class WorkloadConfig(_Strict):
    """How samples arrive.

    ``sync``: one sample every eligible tick (period ``floor(min_interval/timebase) + 1`` ticks), no buffer.
    ``async``: samples wait in a buffer of ``buffer_size`` and overflow is dropped; their arrival
    ``process`` is ``bernoulli`` (the original: after ``min_interval_ms`` each tick has an arrival with
    ``arrival_probability``), ``periodic`` (period ``min_interval_ms`` with uniform ``jitter_ms``),
    ``poisson`` (``rate_hz``), ``mmpp`` (bursty, see :class:`MMPPConfig`) or ``trace`` (a CSV of arrival
    times in ms, one per line or in the first column).
    """

    mode: Literal["sync", "async"] = "async"
    process: Literal["bernoulli", "periodic", "poisson", "mmpp", "trace"] = "bernoulli"
    min_interval_ms: float | None = Field(default=None, gt=0, le=1e9)
    arrival_probability: float = Field(default=0.5, gt=0, le=1)
    jitter_ms: float = Field(default=0.0, ge=0, le=1e9)
    rate_hz: float | None = Field(default=None, gt=0, le=1e6)
    mmpp: MMPPConfig | None = None
    trace: str | None = Field(default=None, min_length=1, max_length=4096)
    buffer_size: int = Field(default=6, ge=1, le=1_000_000)
    timebase_ms: float = Field(default=0.01, gt=0, le=1e3)

    @model_validator(mode="after")
    def _process(self) -> WorkloadConfig:
        p = self.process
        if p in ("bernoulli", "periodic") and self.min_interval_ms is None:
            raise ValueError(f"min_interval_ms: required for process {p!r}")
        if p == "poisson" and self.rate_hz is None:
            raise ValueError("rate_hz: required for process 'poisson'")
        if p == "mmpp" and self.mmpp is None:
            raise ValueError("mmpp: required for process 'mmpp' (rates_hz, switch_hz)")
        if p == "trace" and self.trace is None:
            raise ValueError("trace: required for process 'trace' (a CSV of arrival times in ms)")
        if self.mode == "sync" and p != "bernoulli":
            raise ValueError(f"process: sync mode takes the original 'bernoulli' process, got {p!r}; use async")
        if p == "periodic" and self.min_interval_ms is not None and self.jitter_ms >= self.min_interval_ms / 2:
            raise ValueError("jitter_ms: must be smaller than half of min_interval_ms (the period)")
        return self

    def mean_gap_ms(self) -> float | None:
        """Mean time between arrivals in ms (``None`` for a trace, known only once read)."""
        if self.process == "bernoulli":
            assert self.min_interval_ms is not None
            ticks = math.floor(self.min_interval_ms / self.timebase_ms)
            extra = 1.0 if self.mode == "sync" else 1.0 / self.arrival_probability
            return (ticks + extra) * self.timebase_ms
        if self.process == "periodic":
            return self.min_interval_ms
        if self.process == "poisson":
            assert self.rate_hz is not None
            return 1000.0 / self.rate_hz
        if self.process == "mmpp":
            assert self.mmpp is not None
            (l0, l1), (q0, q1) = self.mmpp.rates_hz, self.mmpp.switch_hz
            return 1000.0 / ((l0 * q1 + l1 * q0) / (q0 + q1))
        return None


class HarvesterConfig(_Strict):
    """An energy harvester charging the battery (capped at its capacity).

    ``constant``: ``current_ma``. ``solar``: a half sine of ``peak_current_ma`` during the day
    (``day_fraction`` of each ``period_ms``, starting at ``phase_ms``), nothing at night. ``trace``: a CSV of
    ``time_ms, current_ma`` rows, the current holding until the next row.
    """

    kind: Literal["constant", "solar", "trace"]
    current_ma: float | None = Field(default=None, ge=0, le=1e5)
    peak_current_ma: float | None = Field(default=None, ge=0, le=1e5)
    period_ms: float = Field(default=86_400_000.0, gt=0, le=1e12)
    day_fraction: float = Field(default=0.5, gt=0, le=1)
    phase_ms: float = Field(default=0.0, ge=-1e12, le=1e12)
    trace: str | None = Field(default=None, min_length=1, max_length=4096)

    @model_validator(mode="after")
    def _kind(self) -> HarvesterConfig:
        need = {"constant": "current_ma", "solar": "peak_current_ma", "trace": "trace"}[self.kind]
        if getattr(self, need) is None:
            raise ValueError(f"{need}: required for a {self.kind!r} harvester")
        return self


class BatteryConfig(_Strict):
    """Battery capacity (mAh) and initial state of charge (fraction, 0 < soc <= 1)."""

    capacity_mah: float = Field(gt=0, le=1e5)
    initial_soc: float = Field(default=1.0, gt=0, le=1)


class ScenarioConfig(_Strict):
    """A complete, resolved scenario: board, model profile, workload, battery and episode definition.

    ``horizon_ms``: when set, the device must serve that period; samples arriving after the battery dies, and
    samples left unserved at the end, count as dropped. ``seed_compat``: follow the original TinySimulator
    exactly (tick arithmetic, stop rule, Python ``random`` seeded with 1).
    """

    name: str = Field(default="scenario", min_length=1, max_length=200)
    description: str = ""
    board: BoardConfig
    profile: ProfileConfig
    workload: WorkloadConfig
    battery: BatteryConfig
    horizon_ms: float | None = Field(default=None, gt=0, le=1e10)
    seed_compat: bool = False
    harvester: HarvesterConfig | None = None
    deadline_ms: float | None = Field(default=None, gt=0, le=1e10)
    memory_policy: Literal["reject", "mask"] = "reject"
    randomize: dict[str, Any] = Field(default_factory=dict)
    selector: str | None = None
    selector_params: dict[str, Any] = Field(default_factory=dict)

    def fits_memory(self) -> list[bool]:
        """Whether each model fits the board's RAM and flash (a size not given always fits)."""
        b = self.board
        return [
            (m.ram_kb is None or b.ram_kb is None or m.ram_kb <= b.ram_kb)
            and (m.flash_kb is None or b.flash_kb is None or m.flash_kb <= b.flash_kb)
            for m in self.profile.models
        ]

    @model_validator(mode="after")
    def _check(self) -> ScenarioConfig:
        w = self.workload
        lats = self.profile.total_latencies_ms
        if self.seed_compat:
            extras = [
                name
                for name, on in (
                    ("harvester", self.harvester is not None),
                    ("deadline_ms", self.deadline_ms is not None),
                    ("workload.process", w.process != "bernoulli"),
                    ("randomize", bool(self.randomize)),
                    (
                        "profile.models[].inference_current_ma/charge_per_inference_uah",
                        any(m.inference_current_ma or m.charge_per_inference_uah for m in self.profile.models),
                    ),
                )
                if on
            ]
            if extras:
                raise ValueError(
                    f"seed_compat: the original model has no {extras[0]}; set seed_compat: false to use it"
                )
        for key, spec in self.randomize.items():
            _check_randomize(key, spec)
        fits = self.fits_memory()
        if not all(fits):
            bad = fits.index(False)
            m = self.profile.models[bad]
            if self.memory_policy == "reject":
                raise ValueError(
                    f"profile.models[{bad}]: model {str(m.id)!r} needs ram_kb={m.ram_kb}, flash_kb={m.flash_kb} but "
                    f"board {self.board.name!r} has ram_kb={self.board.ram_kb}, flash_kb={self.board.flash_kb} "
                    "(memory_policy: reject; use mask to keep the model set and mask it)"
                )
            if not any(fits):
                raise ValueError(f"profile.models: no model fits board {self.board.name!r} memory")
        if w.mode == "sync" and w.min_interval_ms is None:
            raise ValueError("workload.min_interval_ms: required in sync mode")
        for i, lat in enumerate(lats):
            ticks = lat / w.timebase_ms
            if not ticks > 0.5:  # the original's round(): half a tick would be 0 ticks, a free endless inference
                raise ValueError(
                    f"profile.models[{i}].latency_ms: latency plus selector latency ({lat} ms) must be more "
                    f"than half a tick (timebase {w.timebase_ms} ms)"
                )
            if ticks > 1e12:
                raise ValueError(
                    f"profile.models[{i}].latency_ms: {lat} ms is more than 1e12 ticks of {w.timebase_ms} ms"
                )
        if w.mode == "sync" and w.min_interval_ms is not None and max(lats) > w.min_interval_ms:
            raise ValueError(
                f"workload.min_interval_ms: sync mode needs min_interval_ms >= the slowest model's latency "
                f"plus selector latency ({max(lats):g} ms), got {w.min_interval_ms:g}"
            )
        if w.min_interval_ms is not None and w.min_interval_ms / w.timebase_ms > 1e12:
            raise ValueError("workload.min_interval_ms: more than 1e12 ticks between samples")
        if self.horizon_ms is not None and self.horizon_ms / w.timebase_ms > 1e13:
            raise ValueError("horizon_ms: more than 1e13 ticks")
        # Guard against scenarios that would run for hours: estimate decisions until depletion.
        e_min = min(lats) * self.board.inference_current_ma / 3.6e6
        decisions = self.battery.capacity_mah * self.battery.initial_soc / e_min
        gap = w.mean_gap_ms()
        if self.harvester is not None and self.horizon_ms is None:
            raise ValueError("horizon_ms: required with a harvester (a harvested device may never run down)")
        if self.horizon_ms is not None and gap is not None:
            decisions = min(decisions, self.horizon_ms / gap)
        if decisions > 2e9:
            raise ValueError(
                f"battery.capacity_mah: about {decisions:.3g} decisions until depletion (limit 2e9); "
                "use a smaller capacity or a horizon_ms"
            )
        return self


def _check_randomize(key: str, spec: Any) -> None:
    if key not in RANDOMIZABLE:
        raise ValueError(f"randomize.{key}: cannot be randomised (allowed: {', '.join(RANDOMIZABLE)})")
    if isinstance(spec, list):
        if not spec:
            raise ValueError(f"randomize.{key}: the list of choices is empty")
        return
    if isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in ("range", "log_range"):
        lo_hi = next(iter(spec.values()))
        if (
            isinstance(lo_hi, list)
            and len(lo_hi) == 2
            and all(isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in lo_hi)
            and lo_hi[0] <= lo_hi[1]
            and (next(iter(spec)) == "range" or lo_hi[0] > 0)
        ):
            return
    raise ValueError(
        f"randomize.{key}: expected a list of choices, {{range: [lo, hi]}} or {{log_range: [lo, hi]}} (lo > 0)"
    )


def sample_scenario(scenario: ScenarioConfig, rng: Any) -> ScenarioConfig:
    """Draw one concrete scenario from a scenario's ``randomize`` ranges and lists (domain randomisation).

    Args:
        scenario: a scenario whose ``randomize`` maps field paths (see ``RANDOMIZABLE``) to a list of
            choices, ``{range: [lo, hi]}`` (uniform) or ``{log_range: [lo, hi]}`` (log-uniform).
        rng: a :class:`numpy.random.Generator` (the env passes its ``np_random``).

    Returns:
        The scenario itself when nothing is randomised, else a validated concrete scenario.
    """
    if not scenario.randomize:
        return scenario
    over: dict[str, Any] = {"randomize": {}}
    for key in sorted(scenario.randomize):
        spec = scenario.randomize[key]
        if isinstance(spec, list):
            value = spec[int(rng.integers(len(spec)))]
        elif "range" in spec:
            lo, hi = spec["range"]
            value = float(rng.uniform(lo, hi))
        else:
            lo, hi = spec["log_range"]
            value = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
        node = over
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    base = scenario.model_dump()
    base["randomize"] = {}
    return scenario_from_mapping(base, over)


# --------------------------------------------------------------------------------------------- loading


# pydantic's location tags for validator wrappers and union members: not field names, left out of messages
_LOC_TAGS = {"function-after", "function-before", "function-wrap", "function-plain", "str", "int", "float", "bool"}
# the original TinySimulator JSON names of fields, named in "missing" messages
_ORIGINAL_NAMES = {
    "inference_current_ma": "avg_infer_energy_cons",
    "idle_current_ma": "avg_idle_energy_cons",
    "accuracy": "training_accuracy",
    "latency_ms": "latency",
    "selector_latency_ms": "selector_latency",
}


def _loc(e: Any) -> tuple[str, ...]:
    """The error's location without pydantic's tags (a key of the input named like a tag stays)."""
    loc = e["loc"]
    keep_last = e["type"] in ("extra_forbidden", "missing") and loc
    parts = [str(p) for p in (loc[:-1] if keep_last else loc) if p not in _LOC_TAGS]
    return (*parts, str(loc[-1])) if keep_last else tuple(parts)


def _clean_msg(e: Any) -> str:
    msg = str(e["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if e["type"] == "extra_forbidden":
        msg = "unknown key (not allowed)"
    if e["type"] == "missing" and e["loc"] and e["loc"][-1] in _ORIGINAL_NAMES:
        msg += f" (in the original JSON format: {_ORIGINAL_NAMES[e['loc'][-1]]})"
    return msg


def _format_validation(err: ValidationError, what: str) -> str:
    errors = err.errors(include_url=False)
    # an unknown key next to a missing one is most likely a typo: report the unknown key, with a suggestion
    errors.sort(key=lambda x: x["type"] != "extra_forbidden")
    e = errors[0]
    if e["type"] == "extra_forbidden":
        parent = e["loc"][:-1]
        missing = [str(x["loc"][-1]) for x in errors if x["type"] == "missing" and x["loc"][:-1] == parent]
        missing += [_ORIGINAL_NAMES[m] for m in missing if m in _ORIGINAL_NAMES]
        close = difflib.get_close_matches(str(e["loc"][-1]), missing, n=1, cutoff=0.6)
        if close:
            e = errors[0] = {**e, "msg": f"unknown key (did you mean {close[0]}?)", "type": "extra_forbidden_hint"}
    loc_parts = _loc(e)
    # one input failing every member of a union (e.g. an id that is neither a string nor an integer) is one error
    same = [x for x in errors if _loc(x) == loc_parts]
    msgs = list(dict.fromkeys(_clean_msg(x) for x in same))
    prefix = "Input should be "
    if len(msgs) > 1 and all(m.startswith(prefix) for m in msgs):
        msg = prefix + " or ".join(m[len(prefix) :] for m in msgs)
    else:
        msg = " or ".join(msgs)
    inp = e.get("input")
    shown = "" if isinstance(inp, dict | list | tuple) or e["type"] == "missing" else f" (got {inp!r:.60})"
    loc = ".".join(loc_parts)
    where = f"{what}.{loc}" if loc else what
    more = len(errors) - len(same)
    tail = f" [+{more} more error{'s' if more > 1 else ''}]" if more else ""
    return f"{where}: {msg}{shown}{tail}"


def validate(model: type[BaseModel], data: Mapping[str, Any], what: str) -> Any:
    """Validate ``data`` as ``model``; raise :class:`ConfigError` with a one-line message on failure."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{what}: expected a mapping of keys to values, got {type(data).__name__}")
    try:
        return model.model_validate(dict(data))
    except ValidationError as err:
        raise ConfigError(_format_validation(err, what)) from None


def builtin_root() -> Path:
    """Directory holding the built-in configs (installed package data, or ``configs/`` in a checkout)."""
    try:
        root = Path(str(resources.files("tinysim_gym.configs")))
        if (root / "boards").is_dir():
            return root
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parents[2] / "configs"


def builtin_names(kind: str) -> list[str]:
    """Names of the built-in configs of one kind (``boards``, ``profiles``, ``scenarios``, ``agents``)."""
    d = builtin_root() / kind
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader, but a key repeated in one mapping is an error instead of silently overwritten.

    Built on libyaml when it is there: it is fast and refuses absurd nesting at once (the pure-Python
    parser takes seconds to run out of recursion on a file of ``[[[[...``).
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # "<<: *anchor": merged keys may be overridden, as YAML says
                key = self.construct_object(key_node, deep=deep)
                try:
                    dup = key in seen
                except TypeError:
                    continue  # unhashable: the base class reports it
                if dup:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_mapping(path: Path, what: str) -> dict[str, Any]:
    """Read a YAML or JSON file into a dict, with one-line errors for every way it can be bad."""
    try:
        size = path.stat().st_size
    except (OSError, ValueError) as exc:  # ValueError: an embedded NUL byte
        raise ConfigError(f"{what}: cannot read {str(path)!r}: {getattr(exc, 'strerror', None) or exc}") from None
    if not path.is_file():
        raise ConfigError(f"{what}: {str(path)!r} is not a file")
    if size > MAX_FILE_BYTES:
        raise ConfigError(f"{what}: {str(path)!r} is {size} bytes, larger than the limit {MAX_FILE_BYTES}")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Windows editors) is dropped
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what}: cannot read {str(path)!r} as UTF-8 text: {exc}") from None
    if not text.strip():
        raise ConfigError(f"{what}: {str(path)!r} is empty")
    try:
        if path.suffix.lower() == ".json":
            # NaN/Infinity are reported with their field below; a repeated key is an error, not "last wins"
            data = json.loads(text, parse_constant=float, object_pairs_hook=_unique_pairs)
        else:
            data = yaml.load(text, Loader=_StrictLoader)  # a safe loader (see _StrictLoader)
    except ConfigError:
        raise
    except (yaml.YAMLError, json.JSONDecodeError, ValueError, RecursionError) as exc:
        first = " ".join(str(exc).split())[:200]
        raise ConfigError(f"{what}: {str(path)!r} is not valid {path.suffix.lstrip('.') or 'YAML'}: {first}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what}: {str(path)!r} must hold a mapping of keys to values, got {type(data).__name__}")
    data = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("_comment"))}
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise ConfigError(f"{what}: key {bad[0]!r} is not a string")
    _check_finite(data, what)
    return data


MAX_NODES = 100_000
"""Most values (counting every expansion of a YAML alias) a config file may hold: stops alias bombs."""
MAX_DEPTH = 50
"""Deepest nesting of mappings and lists a config file may hold."""


def _check_finite(obj: Any, where: str) -> None:
    """Reject non-finite numbers, self-referencing YAML aliases, alias bombs and absurd nesting.

    The walk counts shared (aliased) values once per reference, so a small file whose aliases expand to
    millions of values fails fast here instead of hanging the validation that follows.
    """
    _walk(obj, where, 0, [0], set())


def _walk(obj: Any, where: str, depth: int, count: list[int], on_path: set[int]) -> None:
    count[0] += 1
    if count[0] > MAX_NODES:
        raise ConfigError(f"{where[:200]}: more than {MAX_NODES} values in one file (a YAML alias bomb?)")
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ConfigError(f"{where}: {obj} is not a finite number")
    if not isinstance(obj, dict | list):
        return
    if depth >= MAX_DEPTH:
        raise ConfigError(f"{where[:200]}: nested more than {MAX_DEPTH} levels deep")
    if id(obj) in on_path:
        raise ConfigError(f"{where[:200]}: refers to itself (a recursive YAML alias)")
    on_path.add(id(obj))
    items = obj.items() if isinstance(obj, dict) else enumerate(obj)
    for k, v in items:
        _walk(v, f"{where}.{k}" if isinstance(obj, dict) else f"{where}[{k}]", depth + 1, count, on_path)
    on_path.discard(id(obj))


def _looks_like_path(ref: str) -> bool:
    return ref.endswith((".yaml", ".yml", ".json")) or "/" in ref or "\\" in ref


def resolve_ref(kind: str, ref: str) -> tuple[str, dict[str, Any]]:
    """Turn a built-in name or a file path into ``(name, raw mapping)``.

    Raises:
        ConfigError: unknown name (with close matches) or unreadable file.
    """
    what = kind[:-1]
    if not isinstance(ref, str) or not ref:
        raise ConfigError(f"{what}: expected a built-in name or a file path, got {ref!r}")
    path = Path(ref).expanduser()
    if _looks_like_path(ref) or path.is_file():
        return path.stem, read_mapping(path, what)
    names = builtin_names(kind)
    if ref not in names:
        close = difflib.get_close_matches(ref, names, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"{what}: unknown {what} {ref!r}{hint} (built-in: {', '.join(names)}; or a file path)")
    return ref, read_mapping(builtin_root() / kind / f"{ref}.yaml", what)


def _load_part(model: type[BaseModel], kind: str, ref: Any) -> Any:
    """A board or profile from a built-in name, a path (YAML or the original JSON) or an inline mapping."""
    if isinstance(ref, model):
        return ref
    what = kind[:-1]
    name, raw = (what, dict(ref)) if isinstance(ref, Mapping) else resolve_ref(kind, ref)
    raw.setdefault("name", name)
    return validate(model, raw, what)


def load_board(ref: str | Mapping[str, Any]) -> BoardConfig:
    """Load a board by built-in name, path (YAML or original JSON) or inline mapping."""
    return _load_part(BoardConfig, "boards", ref)


def load_profile(ref: str | Mapping[str, Any]) -> ProfileConfig:
    """Load a model profile by built-in name, path (YAML or original JSON) or inline mapping."""
    return _load_part(ProfileConfig, "profiles", ref)


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


def scenario_from_mapping(raw: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> ScenarioConfig:
    """Build a :class:`ScenarioConfig` from a raw mapping, resolving board and profile references.

    Args:
        raw: the scenario mapping (``board`` and ``profile`` may be names, paths or inline mappings).
        overrides: nested mapping merged over ``raw`` before validation (``None`` values are ignored).
    """
    data = _merge(dict(raw), {k: v for k, v in (overrides or {}).items() if v is not None})
    for key in ("board", "profile", "workload", "battery"):
        if key not in data:
            raise ConfigError(f"scenario.{key}: missing (required)")
    board = data["board"]
    profile = data["profile"]
    try:
        if isinstance(board, str | Mapping):
            data["board"] = load_board(board)
        if isinstance(profile, str | Mapping):
            data["profile"] = load_profile(profile)
    except ConfigError as exc:  # "board.x: ..." -> "scenario.board.x: ...": where it sits in the scenario
        raise ConfigError(f"scenario.{exc}") from None
    for key in ("workload", "battery"):
        if not isinstance(data[key], Mapping | BaseModel):
            raise ConfigError(f"scenario.{key}: expected a mapping, got {type(data[key]).__name__}")
    for k, v in data.items():
        if k in ("board", "profile"):
            continue
        if isinstance(v, BaseModel):
            data[k] = v.model_dump()
    data["board"] = data["board"].model_dump() if isinstance(data["board"], BaseModel) else data["board"]
    data["profile"] = data["profile"].model_dump() if isinstance(data["profile"], BaseModel) else data["profile"]
    return validate(ScenarioConfig, data, "scenario")


def load_scenario(ref: str | Mapping[str, Any] | ScenarioConfig, **overrides: Any) -> ScenarioConfig:
    """Load a scenario by built-in name, YAML path, mapping or config, with nested overrides.

    Example:
        >>> load_scenario("sync_1", battery={"capacity_mah": 0.5}).battery.capacity_mah
        0.5
    """
    if isinstance(ref, ScenarioConfig):
        if not overrides:
            return ref
        raw: dict[str, Any] = ref.model_dump()
    elif isinstance(ref, Mapping):
        raw = dict(ref)
    else:
        name, raw = resolve_ref("scenarios", ref)
        raw.setdefault("name", name)
        base = Path(ref).expanduser().parent if _looks_like_path(ref) else builtin_root() / "scenarios"
        for section in ("workload", "harvester"):
            sec = raw.get(section)
            if isinstance(sec, dict) and isinstance(sec.get("trace"), str) and not Path(sec["trace"]).is_absolute():
                raw[section] = {**sec, "trace": str(base / sec["trace"])}
        for key in ("board", "profile"):  # a relative file path in a scenario file: beside the scenario first
            v = raw.get(key)
            if isinstance(v, str) and _looks_like_path(v) and not Path(v).expanduser().is_absolute():
                beside = base / v
                if beside.is_file():
                    raw[key] = str(beside)
    return scenario_from_mapping(raw, overrides)


def read_csv_columns(path: str, what: str, columns: int) -> list[list[float]]:
    """Read the first ``columns`` numeric columns of a small CSV file (a header line is skipped).

    Raises:
        ConfigError: unreadable, too large, non-numeric, non-finite, or not non-decreasing in column 0.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {path!r}: {exc.strerror or exc}") from None
    if size > 50 * MAX_FILE_BYTES:
        raise ConfigError(f"{what}: {path!r} is {size} bytes, larger than the limit {50 * MAX_FILE_BYTES}")
    cols: list[list[float]] = [[] for _ in range(columns)]
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what}: cannot read {path!r} as UTF-8 text: {exc}") from None
    for i, line in enumerate(lines, 1):
        parts = [x.strip() for x in line.replace(";", ",").split(",")]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            vals = [float(x) for x in parts[:columns]]
        except ValueError:
            if i == 1:
                continue  # a header
            raise ConfigError(f"{what}: {path!r} line {i}: expected {columns} numbers, got {line[:60]!r}") from None
        if len(vals) < columns or not all(math.isfinite(v) for v in vals):
            raise ConfigError(f"{what}: {path!r} line {i}: expected {columns} finite numbers, got {line[:60]!r}")
        for c, v in zip(cols, vals, strict=False):
            c.append(v)
    if not cols[0]:
        raise ConfigError(f"{what}: {path!r} holds no rows")
    t = cols[0]
    if any(b < a for a, b in zip(t, t[1:], strict=False)) or t[0] < 0:
        raise ConfigError(f"{what}: {path!r}: times must be >= 0 and non-decreasing")
    return cols


def load_agent_hyperparams(ref: str) -> dict[str, Any]:
    """Load an agent hyperparameter file (``configs/agents/<algo>.yaml``) by algorithm name or path."""
    return resolve_ref("agents", ref)[1]
