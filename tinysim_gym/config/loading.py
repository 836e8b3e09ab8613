"""Loading configs: built-in names or files, inline mappings and overrides, into validated models.

Configs load from built-in names (shipped under ``configs/`` and installed as ``tinysim_gym.configs``), from
YAML files, and from the original TinySimulator JSON files (whose keys ``avg_infer_energy_cons``,
``training_accuracy``, ``latency``, ``dataset``, ``description`` and ``_comment*`` stay accepted). Errors
are :class:`ConfigError` with a one-line message naming the field.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from tinysim_gym.builtin import builtin_root, builtin_stems
from tinysim_gym.config.guards import read_mapping
from tinysim_gym.config.randomize import draw_overrides, field_value
from tinysim_gym.config.schema import BoardConfig, ProfileConfig, ScenarioConfig
from tinysim_gym.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

_Model = TypeVar("_Model", bound=BaseModel)
_Part = TypeVar("_Part", BoardConfig, ProfileConfig)

KINDS = ("boards", "profiles", "scenarios", "suite")
"""The kinds of built-in config, one folder each under :func:`builtin_root`."""


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
    # the value of an unknown key is not shown: it is not ours (a path pointed at the wrong file) to print
    hidden = isinstance(inp, dict | list | tuple) or e["type"] in ("missing", "extra_forbidden", "extra_forbidden_hint")
    shown = "" if hidden else f" (got {inp!r:.60})"
    loc = ".".join(loc_parts)
    where = f"{what}.{loc}" if loc else what
    more = len(errors) - len(same)
    tail = f" [+{more} more error{'s' if more > 1 else ''}]" if more else ""
    return f"{where}: {msg}{shown}{tail}"


def validate(model: type[_Model], data: Mapping[str, Any], what: str) -> _Model:
    """Validate ``data`` as ``model``; raise :class:`ConfigError` with a one-line message on failure."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{what}: expected a mapping of keys to values, got {type(data).__name__}")
    try:
        return model.model_validate(dict(data))
    except ValidationError as err:
        raise ConfigError(_format_validation(err, what)) from None


def builtin_names(kind: str) -> list[str]:
    """Names of the built-in configs of one kind (``boards``, ``profiles``, ``scenarios``, ``suite``)."""
    return builtin_stems(kind)


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


def _load_part(model: type[_Part], kind: str, ref: str | Mapping[str, Any] | _Part) -> _Part:
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

def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any], depth: int | None = None) -> dict[str, Any]:
    """``over`` merged over ``base``, into a new dict that shares no mutable value with either.

    Args:
        base: the mapping merged into.
        over: the mapping whose values win.
        depth: how many levels of nested mappings merge key by key (``None``: all; ``1``: the mappings
            directly under the top level merge, anything deeper in them is replaced as a whole).
    """
    out = {k: copy.deepcopy(v) for k, v in base.items()}
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) and (depth is None or depth > 0):
            out[k] = deep_merge(out[k], v, None if depth is None else depth - 1)
        else:
            out[k] = copy.deepcopy(v)
    return out


def scenario_from_mapping(raw: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> ScenarioConfig:
    """Build a :class:`ScenarioConfig` from a raw mapping, resolving board and profile references.

    Args:
        raw: the scenario mapping (``board`` and ``profile`` may be names, paths or inline mappings).
        overrides: nested mapping merged over ``raw`` before validation (``None`` values are ignored).
    """
    data = deep_merge(raw, {k: v for k, v in (overrides or {}).items() if v is not None})
    for key in ("board", "profile", "workload", "battery"):
        if key not in data and not (key == "battery" and data.get("storage") is not None):
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
    if "profile_models" in data:
        data["profile"] = _pick_models(data["profile"], data.pop("profile_models"))
    for key in ("workload", "battery"):
        if key in data and not isinstance(data[key], Mapping | BaseModel):
            raise ConfigError(f"scenario.{key}: expected a mapping, got {type(data[key]).__name__}")
    for k, v in data.items():
        if k in ("board", "profile"):
            continue
        if isinstance(v, BaseModel):
            data[k] = v.model_dump()
    data["board"] = data["board"].model_dump() if isinstance(data["board"], BaseModel) else data["board"]
    data["profile"] = data["profile"].model_dump() if isinstance(data["profile"], BaseModel) else data["profile"]
    scenario = validate(ScenarioConfig, data, "scenario")
    for _ in randomize_variants(scenario):
        pass  # every choice and both ends of every range must give a valid scenario: checked now, not when drawn
    return scenario


def _pick_models(profile: ProfileConfig | Mapping[str, Any], ids: Any) -> ProfileConfig:
    """The profile keeping only the models named in ``ids``, in that order (one task out of a catalogue)."""
    prof = profile if isinstance(profile, ProfileConfig) else load_profile(profile)
    by_id = {str(m.id): m for m in prof.models}
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str | int) for i in ids):
        raise ConfigError("scenario.profile_models: expected a non-empty list of model ids")
    unknown = [str(i) for i in ids if str(i) not in by_id]
    if unknown:
        raise ConfigError(
            f"scenario.profile_models: no model {unknown[0]!r} in profile {prof.name!r} (ids: {', '.join(by_id)})"
        )
    return prof.model_copy(update={"models": [by_id[str(i)] for i in ids], "fuzzy_variant": None})


def randomize_variants(scenario: ScenarioConfig) -> Iterator[tuple[str, ScenarioConfig]]:
    """The concrete scenarios at the edges of ``randomize``: each choice, and both ends of each range, alone.

    Every other field keeps the scenario's own value, so a value that cannot give a valid scenario is found
    when the scenario loads (one line naming the entry and the value) instead of at some later draw.

    Yields:
        ``(what, concrete scenario)``, ``what`` naming the entry and the value (``randomize.board choice 2``).

    Raises:
        ConfigError: a value that does not give a valid scenario.
    """
    if not scenario.randomize:
        return
    template = scenario.model_dump()
    template["randomize"] = {}
    devices = scenario.randomize.get("device") or [None]
    for d, device in enumerate(devices):
        base = with_device(template, device)
        where = "" if device is None else f"randomize.device choice {d + 1}: "
        if device is not None:
            try:
                variant = scenario_from_mapping(base)
            except ConfigError as exc:
                raise ConfigError(f"scenario.randomize.device choice {d + 1} gives no valid scenario: {exc}") from None
            yield f"randomize.device choice {d + 1}", variant
            base = variant.model_dump()  # its board and profile resolved once, not again for every edge
            base["randomize"] = {}
        yield from _edge_variants(scenario.randomize, base, where)


def _edge_variants(randomize: Mapping[str, Any], base: dict[str, Any], where: str
                   ) -> Iterator[tuple[str, ScenarioConfig]]:
    """Each field entry's choices and range ends alone over ``base`` (one device's scenario)."""
    for key in sorted(randomize):
        spec = randomize[key]
        if key == "device":
            continue
        if isinstance(spec, list):
            values = [(f"choice {i + 1} ({v!r:.60})", v) for i, v in enumerate(spec)]
        else:
            kind, (lo, hi) = next(iter(spec.items()))
            values = [(f"{kind} lower end {lo!r}", float(lo)), (f"{kind} upper end {hi!r}", float(hi))]
            if kind == "scale":
                current = field_value(base, key)
                if not isinstance(current, int | float) or isinstance(current, bool):
                    continue  # the device lacks the field: the scale changes nothing
                values = [(label, v * float(current)) for label, v in values]
        for label, value in values:
            over: dict[str, Any] = {}
            node = over
            *parents, leaf = key.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
            what = f"{where}randomize.{key} {label}"
            try:
                variant = scenario_from_mapping(base, over)
            except ConfigError as exc:
                raise ConfigError(f"scenario.{what} gives no valid scenario: {exc}") from None
            yield what, variant


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


def sample_scenario(scenario: ScenarioConfig, rng: np.random.Generator) -> ScenarioConfig:
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
    base = scenario.model_dump()
    base["randomize"] = {}
    devices = scenario.randomize.get("device")
    if devices:
        base = with_device(base, devices[int(rng.integers(len(devices)))])
    return scenario_from_mapping(base, draw_overrides(scenario.randomize, rng, base))


def device_scenarios(scenario: ScenarioConfig, name: str | None = None) -> list[tuple[str, ScenarioConfig]]:
    """One scenario per ``randomize.device`` choice (its other ranges still drawn per seed), labelled.

    Args:
        scenario: a scenario whose ``randomize`` lists devices (none: an empty list).
        name: the prefix of the scenarios' names, ``<name>-<k>`` from 1 (default: the scenario's name).

    Returns:
        ``(label, scenario)`` per device in listed order, the label ``<board> x <profile>[ + <harvester kind>]``.
    """
    out = []
    for k, device in enumerate(scenario.randomize.get("device") or [], start=1):
        label = f"{device.get('board', scenario.board.name)} x {device.get('profile', scenario.profile.name)}"
        if device.get("harvester"):
            label += f" + {device['harvester'].get('kind')}"
        sc = scenario.model_copy(update={"name": f"{name or scenario.name}-{k}", "description": label,
                                         "randomize": {**scenario.randomize, "device": [device]}})
        out.append((label, sc))
    return out


def with_device(base: Mapping[str, Any], device: Mapping[str, Any] | None) -> dict[str, Any]:
    """``base`` with one ``randomize.device`` choice merged over it (its harvester replaces the base's)."""
    if device is None:
        return dict(base)
    out = dict(base)
    if "harvester" in device:
        out["harvester"] = None
    return deep_merge(out, device)


def require_concrete(scenario: ScenarioConfig, what: str) -> ScenarioConfig:
    """``scenario`` itself, if it randomises nothing; a one-line refusal otherwise.

    ``compare`` and ``bound`` work on one concrete scenario: on a ``randomize:`` template they would quietly
    use its base values, which are not what an episode of it runs on.

    Args:
        scenario: the scenario to check.
        what: the command or function refusing (the message's prefix).

    Raises:
        ConfigError: the scenario has a ``randomize:`` section.
    """
    if scenario.randomize:
        raise ConfigError(
            f"{what}: scenario {scenario.name!r} randomises {', '.join(sorted(scenario.randomize))} per episode; "
            "use a concrete scenario (no randomize:, e.g. one held-out combination as its own file)"
        )
    return scenario
