"""The numba Sugeno evaluator against simpful, built the way the original TinySimulator built it."""

from __future__ import annotations

import random
import statistics
import time

import numpy as np
import pytest
import simpful as sp

from baselines.fuzzy import (
    DEFAULT_PARAMS,
    VARIANT_STREAM,
    VARIANT_TOVA,
    _membership,
    fuzzy_index,
    fuzzy_index_kernel,
    fuzzy_output,
    fuzzy_output_array,
    fuzzy_select,
    make_params,
)

# ------------------------------------------------------------------ simpful, as in the original


def original_system() -> sp.FuzzySystem:
    fs = sp.FuzzySystem(show_banner=False)
    battery = [
        sp.FuzzySet(function=sp.Triangular_MF(a=0, b=0, c=25), term="low"),
        sp.FuzzySet(function=sp.Triangular_MF(a=0, b=25, c=50), term="medium"),
        sp.FuzzySet(function=sp.Triangular_MF(a=25, b=50, c=75), term="high"),
        sp.FuzzySet(function=sp.Trapezoidal_MF(a=50, b=75, c=100, d=100), term="full"),
    ]
    fs.add_linguistic_variable(
        "Battery",
        sp.LinguisticVariable(battery, concept="Battery percentage", universe_of_discourse=[0, 100]),
    )
    queue = [
        sp.FuzzySet(function=sp.Triangular_MF(a=0, b=0, c=2), term="empty"),
        sp.FuzzySet(function=sp.Triangular_MF(a=1, b=2, c=5), term="half"),
        sp.FuzzySet(function=sp.Trapezoidal_MF(a=3, b=5, c=6, d=6), term="full"),
    ]
    fs.add_linguistic_variable(
        "Queue", sp.LinguisticVariable(queue, concept="Queue state", universe_of_discourse=[0, 6])
    )
    fs.set_crisp_output_value("small", 3)
    fs.set_crisp_output_value("average", 5)
    fs.set_crisp_output_value("high", 7)
    fs.set_crisp_output_value("C", 10)
    fs.add_rules(
        [
            "IF (Battery IS low) THEN (Treshold IS small)",
            "IF (Battery IS medium) THEN (Treshold IS average)",
            "IF (Battery IS high) THEN (Treshold IS high)",
            "IF (Battery IS full) THEN (Treshold IS C)",
            "IF (Queue IS empty) AND (Battery IS full) THEN (Treshold IS C)",
            "IF (Queue IS half) AND (Battery IS full) THEN (Treshold IS high)",
            "IF (Queue IS full) AND (Battery IS full) THEN (Treshold IS average)",
            "IF (Queue IS empty) AND (Battery IS high) THEN (Treshold IS high)",
            "IF (Queue IS half) AND (Battery IS high) THEN (Treshold IS average)",
            "IF (Queue IS full) AND (Battery IS high) THEN (Treshold IS small)",
            "IF (Queue IS empty) AND (Battery IS medium) THEN (Treshold IS average)",
            "IF (Queue IS half) AND (Battery IS medium) THEN (Treshold IS small)",
            "IF (Queue IS full) AND (Battery IS medium) THEN (Treshold IS small)",
            "IF (Queue IS empty) AND (Battery IS low) THEN (Treshold IS small)",
            "IF (Queue IS half) AND (Battery IS low) THEN (Treshold IS small)",
            "IF (Queue IS full) AND (Battery IS low) THEN (Treshold IS small)",
        ]
    )
    return fs


def infer(fs: sp.FuzzySystem, b: float, q: float, **kw) -> float:
    fs.set_variable("Battery", b)
    fs.set_variable("Queue", q)
    return fs.Sugeno_inference(["Treshold"], **kw).get("Treshold")


def original_tova_index(decision: float) -> int:
    decision = round(decision)
    decision = 0 if decision == 10 else decision
    return int(decision)


def original_stream_index(decision: float) -> int:
    if decision <= 3:
        return 0
    elif decision <= 5:
        return 1
    return 2


def _grid() -> list[tuple[float, float]]:
    batteries = [0.25 * i for i in range(401)]
    queues = [0.5 * j for j in range(13)]  # integers 0..6 and the halves between
    points = [(b, q) for b in batteries for q in queues]
    # outside the universes of discourse (simpful does not clip function-based sets)
    points += [(b, q) for b in (-5.0, -0.1, 100.1, 130.0) for q in (-1.0, 0.0, 3.0, 6.5, 7.0, 10.0)]
    rng = random.Random(7)
    points += [(rng.uniform(0.0, 100.0), rng.uniform(0.0, 6.0)) for _ in range(300)]
    points += [(rng.uniform(0.0, 100.0), float(rng.randint(0, 6))) for _ in range(300)]
    return points


@pytest.fixture(scope="module")
def grid_outputs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    fs = original_system()
    pts = _grid()
    soc = np.array([p[0] for p in pts])
    queue = np.array([p[1] for p in pts])
    ref = np.array([float(infer(fs, b, q)) for b, q in pts])
    return soc, queue, ref


def test_output_matches_simpful_on_grid(grid_outputs):
    soc, queue, ref = grid_outputs
    ours = np.array([fuzzy_output(float(b), float(q), DEFAULT_PARAMS) for b, q in zip(soc, queue, strict=True)])
    assert np.max(np.abs(ours - ref)) < 1e-9
    # the arithmetic is the same operation for operation, so the match is in fact bitwise
    assert np.array_equal(ours, ref)


def test_array_version_equals_scalar(grid_outputs):
    soc, queue, ref = grid_outputs
    assert np.array_equal(fuzzy_output_array(soc, queue, DEFAULT_PARAMS), ref)
    with pytest.raises(ValueError):
        fuzzy_output_array(soc, queue[:-1], DEFAULT_PARAMS)


def test_indices_match_original_selectors(grid_outputs):
    soc, queue, ref = grid_outputs
    for b, q, out in zip(soc, queue, ref, strict=True):
        assert fuzzy_select(b, q, "tova") == original_tova_index(out)
        assert fuzzy_select(b, q, "stream") == original_stream_index(out)
    # sanity: the grid reaches every index of both variants
    assert {original_tova_index(o) for o in ref} == {0, 3, 4, 5, 6, 7, 8, 9}
    assert {original_stream_index(o) for o in ref} == {0, 1, 2}


@pytest.mark.parametrize("value", [k + 0.5 for k in range(0, 11)] + [2.4999999, 9.5000001, 10.4, 3.0, 5.0, 7.0])
def test_index_mapping_edges(value):
    assert fuzzy_index(value, "tova") == original_tova_index(value)  # half to even, 10 -> 0
    assert fuzzy_index_kernel(value, VARIANT_TOVA) == original_tova_index(value)
    assert fuzzy_index(value, "stream") == original_stream_index(value)
    assert fuzzy_index_kernel(value, VARIANT_STREAM) == original_stream_index(value)


def test_unknown_variant():
    with pytest.raises(ValueError):
        fuzzy_index(5.0, "nope")


@pytest.mark.parametrize(
    ("simpful_mf", "points"),
    [
        (sp.Triangular_MF(a=0, b=0, c=25), (0, 0, 25)),  # left shoulder
        (sp.Triangular_MF(a=0, b=25, c=25), (0, 25, 25)),  # right shoulder
        (sp.Triangular_MF(a=5, b=5, c=5), (5, 5, 5)),  # 1 everywhere
        (sp.Triangular_MF(a=1, b=2, c=5), (1, 2, 5)),
        (sp.Trapezoidal_MF(a=50, b=75, c=100, d=100), (50, 75, 100, 100)),
        (sp.Trapezoidal_MF(a=0, b=0, c=3, d=6), (0, 0, 3, 6)),
        (sp.Trapezoidal_MF(a=2, b=2, c=2, d=2), (2, 2, 2, 2)),
        (sp.Trapezoidal_MF(a=3, b=5, c=6, d=6), (3, 5, 6, 6)),
    ],
)
def test_membership_matches_simpful_including_degenerate_edges(simpful_mf, points):
    pts = [float(p) for p in points]
    if len(pts) == 3:
        pts.insert(2, pts[1])
    xs = [x / 8.0 for x in range(-80, 1100)] + [-1e9, 1e9]
    for x in xs:
        assert _membership(x, *pts) == simpful_mf(x), x


# ------------------------------------------------------------------ a different rule base is different params

CUSTOM_BATTERY = {"low": (0, 0, 10), "mid": (10, 30, 40, 55), "high": (60, 80, 100, 100)}
CUSTOM_QUEUE = {"few": (0, 0, 1), "many": (4, 6, 6)}
CUSTOM_OUTPUTS = {"a": 1.5, "b": 8.25, "c": -2.0}
CUSTOM_RULES = [
    ("low", "few", "a"),
    ("high", "many", "b"),
    (None, "many", "c"),
    ("mid", None, "b"),
    ("high", "few", "c"),
]


def custom_system() -> sp.FuzzySystem:
    fs = sp.FuzzySystem(show_banner=False)

    def fset(term, pts):
        mf = sp.Triangular_MF(*pts) if len(pts) == 3 else sp.Trapezoidal_MF(*pts)
        return sp.FuzzySet(function=mf, term=term)

    fs.add_linguistic_variable(
        "Battery",
        sp.LinguisticVariable([fset(t, p) for t, p in CUSTOM_BATTERY.items()], universe_of_discourse=[0, 100]),
    )
    fs.add_linguistic_variable(
        "Queue",
        sp.LinguisticVariable([fset(t, p) for t, p in CUSTOM_QUEUE.items()], universe_of_discourse=[0, 6]),
    )
    for name, value in CUSTOM_OUTPUTS.items():
        fs.set_crisp_output_value(name, value)
    rules = []
    for b, q, o in CUSTOM_RULES:
        clauses = ([f"(Queue IS {q})"] if q else []) + ([f"(Battery IS {b})"] if b else [])
        rules.append(f"IF {' AND '.join(clauses)} THEN (Treshold IS {o})")
    fs.add_rules(rules)
    return fs


def test_custom_rule_base_matches_simpful_including_no_rule_firing():
    params = make_params(CUSTOM_BATTERY, CUSTOM_QUEUE, CUSTOM_OUTPUTS, CUSTOM_RULES)
    fs = custom_system()
    zeros = 0
    for i in range(0, 101, 2):
        for j in range(0, 13):
            b, q = float(i), 0.5 * j
            ref = float(infer(fs, b, q, ignore_warnings=True))
            ours = fuzzy_output(b, q, params)
            assert ours == ref, (b, q)
            zeros += ref == 0.0
    assert zeros > 0  # some points fire no rule: simpful returns 0.0 (and prints a warning), so do we


def test_make_params_layout_and_validation():
    assert not DEFAULT_PARAMS.flags.writeable
    assert DEFAULT_PARAMS[:4].tolist() == [4, 3, 4, 16]
    # a triangle is the trapezoid with its peak doubled
    tri = make_params({"x": (0, 1, 2)}, {"y": (0, 0, 1)}, {"o": 1.0}, [("x", "y", "o")])
    trap = make_params({"x": (0, 1, 1, 2)}, {"y": (0, 0, 0, 1)}, {"o": 1.0}, [("x", "y", "o")])
    assert np.array_equal(tri, trap)
    ok = ({"x": (0, 1, 2)}, {"y": (0, 0, 1)}, {"o": 1.0})
    for bad in (
        ({"x": (0, 1, 2)}, {"y": (0, 0, 1)}, {"o": 1.0}, [("z", "y", "o")]),
        ({"x": (0, 1, 2)}, {"y": (0, 0, 1)}, {"o": 1.0}, [("x", "z", "o")]),
        ({"x": (0, 1, 2)}, {"y": (0, 0, 1)}, {"o": 1.0}, [("x", "y", "z")]),
        ({"x": (0, 1, 2)}, {"y": (0, 0, 1)}, {"o": 1.0}, [(None, None, "o")]),
        ({"x": (0, 1, 2)}, {"y": (0, 0, 1)}, {"o": 1.0}, []),
        ({"x": (2, 1, 3)}, {"y": (0, 0, 1)}, {"o": 1.0}, [("x", "y", "o")]),
        ({"x": (0, 1)}, {"y": (0, 0, 1)}, {"o": 1.0}, [("x", "y", "o")]),
        ({"x": (0, 1, 2)}, {"y": (0, 0, 1)}, {"o": float("nan")}, [("x", "y", "o")]),
    ):
        with pytest.raises(ValueError):
            make_params(*bad)
    make_params(*ok, [("x", None, "o")])


# ------------------------------------------------------------------ speed


def test_njit_kernel_is_at_least_100x_faster_than_simpful_per_decision():
    fs = original_system()
    rng = random.Random(3)
    pts = [(rng.uniform(0.0, 100.0), float(rng.randint(0, 6))) for _ in range(5000)]
    fuzzy_output(50.0, 1.0, DEFAULT_PARAMS)  # compile / load from cache outside the timing

    def per_call_simpful(n: int = 100) -> float:
        t0 = time.perf_counter()
        for b, q in pts[:n]:
            infer(fs, b, q)
        return (time.perf_counter() - t0) / n

    def per_call_numba(n: int = 5000) -> float:
        params = DEFAULT_PARAMS
        t0 = time.perf_counter()
        for b, q in pts[:n]:
            fuzzy_output(b, q, params)
        return (time.perf_counter() - t0) / n

    simpful_times, numba_times = [], []
    for _ in range(5):  # side by side, so machine load hits both alike
        simpful_times.append(per_call_simpful())
        numba_times.append(per_call_numba())
    ratio = statistics.median(simpful_times) / statistics.median(numba_times)
    assert ratio >= 100, f"speed-up only {ratio:.0f}x"
