"""Trace arrival times beyond the representable tick range are refused at load, never silently mangled.

Ticks are int64 and ``1 << 62`` marks the end of a finite workload; a time whose tick would reach that
(at the default 0.01 ms timebase: from about 4.6e16 ms) used to be replayed as the end of the workload, and
one past ``2**63`` ticks (1e20 ms) wrapped to a nonsense tick. Times must stay below ``2**61`` ticks.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from baselines.original import LatencyFirst
from tinysim_gym.config import load_scenario
from tinysim_gym.core.arrivals import MAX_TRACE_TICK, TraceStream, checked_trace_times
from tinysim_gym.core.engine import Engine, run
from tinysim_gym.errors import TinySimError

TINYSIM = Path(sys.executable).with_name("tinysim")
TOO_LARGE_MS = ["1e20", "4.6e16", "5e16", "6.5e16", "9.2e16", "9.3e16"]


def _scenario_file(tmp_path: Path, times: list[str], capacity_mah: float = 100.0) -> Path:
    trace = tmp_path / "arrivals.csv"
    trace.write_text("time_ms\n" + "\n".join(times) + "\n")
    sc = tmp_path / "scenario.yaml"
    sc.write_text(
        "name: trace-limits\nboard: NUCLEO-L476RG\nprofile: usps_tova\n"
        f"workload: {{mode: async, process: trace, trace: {trace}}}\n"
        f"battery: {{capacity_mah: {capacity_mah}}}\n"
    )
    return sc


@pytest.mark.parametrize("time_ms", TOO_LARGE_MS)
def test_engine_refuses_a_time_beyond_the_tick_range(tmp_path, time_ms):
    sc = load_scenario(str(_scenario_file(tmp_path, ["1.0", time_ms])))
    with pytest.raises(TinySimError) as info:
        Engine(sc)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("workload.trace:")
    assert "< 2.30584e+16 ms" in msg  # the allowed range, at the default 0.01 ms timebase


@pytest.mark.parametrize("time_ms", TOO_LARGE_MS)
def test_simulate_refuses_it_with_one_line_and_exit_2(tmp_path, time_ms):
    sc = _scenario_file(tmp_path, ["1.0", time_ms])
    res = subprocess.run([str(TINYSIM), "simulate", "--scenario", str(sc), "--selector", "latency-first"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert "workload.trace" in lines[0] and "representable range" in lines[0]


def test_the_limit_follows_the_timebase():
    assert len(checked_trace_times([0.0, 2.0e16], 0.01)) == 2  # 2e18 ticks: inside
    with pytest.raises(TinySimError, match="workload.trace"):
        checked_trace_times([2.4e16], 0.01)
    assert checked_trace_times([1e20], 1000.0)[0] == 1e20  # 1e17 ticks of 1 s: inside
    with pytest.raises(TinySimError):
        checked_trace_times([MAX_TRACE_TICK * 1.0], 1.0)
    with pytest.raises(TinySimError):
        TraceStream(np.array([1e20]), 0.01)  # the replay checks too, whoever builds it


def test_an_in_range_large_time_still_replays_exactly(tmp_path):
    # 3e12 ms is 3e14 ticks, about what 1 Ah of idle current lasts: the second sample arrives and is served
    sc = load_scenario(str(_scenario_file(tmp_path, ["1.0", "3e12"], capacity_mah=1000.0)))
    m = run(sc, LatencyFirst())
    assert m["arrivals"] == 2 and m["inferences"] == 2 and m["end_reason"] == "workload_end"
    assert m["operating_time_ms"] == pytest.approx(3e12, rel=1e-12)
    # a time just inside the limit loads and runs; the battery runs out long before that sample arrives
    sc = load_scenario(str(_scenario_file(tmp_path, ["1.0", "2.3e16"], capacity_mah=1000.0)))
    m = run(sc, LatencyFirst())
    assert m["arrivals"] == 1 and m["end_reason"] == "depleted"
