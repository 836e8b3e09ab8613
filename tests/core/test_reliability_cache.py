"""Numba's on-disk cache across many fresh processes: it hits, stays the same size, and a corrupt or
unwritable cache directory costs a compilation, never the run.

``TINYSIM_CACHE_PROCESSES`` sets how many fresh processes share one cache directory (default 10, two at a
time, to keep ``make test`` short; the reliability page reports a run with 200).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = int(os.environ.get("TINYSIM_CACHE_PROCESSES", "10"))

#: every heuristic whose whole episode runs in the shared compiled pick loop, and one static kernel
CHILD = """
import json
import baselines
from tinysim_gym.config import load_scenario
from tinysim_gym.core.engine import Engine

sc = load_scenario("usps-l476-async-horizon", battery={"capacity_mah": 0.001})
out = {}
for name in ("ladder", "queue-greedy", "budget", "fuzzy", "reference"):
    engine = Engine(sc)
    out[name] = engine.run(baselines.make(name, engine), seed=0)
print(json.dumps(out, sort_keys=True))
"""


def child(cache_dir: Path | str, trace: bool = False) -> subprocess.CompletedProcess:
    """The child in a fresh process; ``trace`` makes numba print each cache file it loads or saves (stdout)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir), "PYTHONPATH": str(ROOT),
           "NUMBA_DEBUG_CACHE": str(int(trace))}
    return subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=600)


def cache_events(proc: subprocess.CompletedProcess, event: str) -> set[Path]:
    """The compiled-code files a traced child reports as ``event``: ``loaded`` or ``saved``.

    The data files, not the indexes: numba re-reads an index while saving, so "index loaded" also shows in
    a process that misses and compiles. Numba prints each path with ``%r`` (quotes and escapes as Python
    writes them), hence the literal_eval.
    """
    prefix = f"[cache] data {event} {'from' if event == 'loaded' else 'to'} "
    return {Path(ast.literal_eval(line[len(prefix):])) for line in proc.stdout.splitlines() if line.startswith(prefix)}


def result(proc: subprocess.CompletedProcess) -> dict:
    """The child's JSON line (the last one: a traced child prints numba's cache lines before it)."""
    return json.loads(proc.stdout.splitlines()[-1])


def cache_files(cache_dir: Path) -> dict[str, int]:
    return {str(p.relative_to(cache_dir)): p.stat().st_size for p in cache_dir.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def filled(tmp_path_factory) -> tuple[str, Path]:
    """What the child prints, and a private cache directory once the child has filled it.

    The directory starts as a copy of this test session's own numba cache, so the child compiles only what
    the earlier tests have not (compiling all of it takes a minute, copying a few MB does not). Each test
    copies it again, and only the tests whose point is a miss compile: the corrupt-cache test compiles and
    saves four functions into it, the unwritable ones compile in memory.
    """
    from numba.core import config

    import tinysim_gym.core.engine  # noqa: F401  (points numba at the session's source-keyed cache)

    filled = tmp_path_factory.mktemp("filled") / "cache"
    session = Path(config.CACHE_DIR)
    # a directory the user chose may hold other projects' caches: then start empty and compile
    if session.is_dir() and "NUMBA_CACHE_DIR" not in os.environ:
        shutil.copytree(session, filled)
    proc = child(filled)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, filled


@pytest.fixture
def reference(filled) -> str:
    return filled[0]


def warm_copy(filled: tuple[str, Path], target: Path) -> Path:
    """A private copy of the filled cache at ``target``."""
    shutil.copytree(filled[1], target)
    return target


def test_many_fresh_processes_share_one_cache_that_stays_the_same_size(tmp_path, filled, reference):
    """Before: one new entry (about 90 kB) per process for the pick loop, never a hit, and from about the
    129th process on every run crashed (``ReferenceError: underlying object has vanished``)."""
    cache = warm_copy(filled, tmp_path / "cache")
    warm = cache_files(cache)
    assert any("pick_loop" in name for name in warm)  # one index per decision function
    with ThreadPoolExecutor(2) as pool:  # two at a time: concurrent processes, as a sweep's workers are
        runs = list(pool.map(lambda _: child(cache), range(PROCESSES - 1)))
    failed = [r.stderr[-500:] for r in runs if r.returncode != 0]
    assert not failed, failed[0]
    assert all(json.loads(r.stdout) == json.loads(reference) for r in runs)
    assert cache_files(cache) == warm  # flat: the same files, the same sizes


def _index_of(data: Path) -> Path:
    """The index ``<stem>.nbi`` of the compiled-code file ``<stem>.<n>.nbc``."""
    return data.with_name(data.name.rsplit(".", 2)[0] + ".nbi")


def test_a_corrupt_cache_is_a_miss_and_is_repaired(tmp_path, filled, reference):
    cache = warm_copy(filled, tmp_path / "cache")
    # Damage the four cheapest functions the child loads from the cache itself (a function only called from
    # compiled code is never read: damaging it would test nothing); every damaged function costs a
    # compilation, all of them would cost a minute. Two behind a damaged index, two behind a good index with
    # damaged data (numba reads the data only once the index is good).
    first = child(cache, trace=True)
    assert first.returncode == 0 and not cache_events(first, "saved"), first.stderr
    data = sorted(cache_events(first, "loaded"), key=lambda d: d.stat().st_size)[:4]
    assert len(data) == 4
    kinds = ((".nbi", "garbage"), (".nbi", "empty"), (".nbc", "garbage"), (".nbc", "truncated"))
    for d, (suffix, kind) in zip(data, kinds, strict=True):
        p = d if suffix == ".nbc" else _index_of(d)
        raw = p.read_bytes()
        p.write_bytes({"garbage": os.urandom(64), "empty": b"", "truncated": raw[: len(raw) // 2]}[kind])
    proc = child(cache, trace=True)
    assert proc.returncode == 0, proc.stderr
    assert result(proc) == json.loads(reference)
    assert "Traceback" not in proc.stderr
    assert cache_events(proc, "saved") >= set(data)  # a miss that compiled and wrote them anew
    again = child(cache, trace=True)  # a normal run: the repaired entries load and nothing compiles
    assert again.returncode == 0 and result(again) == json.loads(reference)
    assert cache_events(again, "loaded") >= set(data) and not cache_events(again, "saved")


@pytest.mark.parametrize("kind", ["under-a-file", "read-only-files"])
def test_an_unwritable_cache_directory_compiles_in_memory(kind, tmp_path, filled, reference):
    if kind == "under-a-file":
        (tmp_path / "afile").write_text("x")
        cache = tmp_path / "afile" / "cache"  # cannot even be created
    else:
        cache = warm_copy(filled, tmp_path / "cache")
        for p in cache.rglob("*"):
            p.chmod(0o444 if p.is_file() else 0o555)
    try:
        proc = child(cache)
    finally:
        for p in tmp_path.rglob("*"):
            p.chmod(0o755)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == json.loads(reference)
    # never numba's fallback beside the sources: those entries go stale when a module they call changes
    assert not [p for pkg in ("tinysim_gym", "baselines") for p in (ROOT / pkg).rglob("*.nbi")]
