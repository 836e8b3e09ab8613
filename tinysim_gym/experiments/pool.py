"""Where experiments run their jobs: one pool abstraction, local processes or Ray.

A :class:`Pool` applies a picklable function to picklable items and yields the results as they finish (in
any order: callers key their results, so the order of completion never reaches a table). ``compare``,
sweeps and training cells all run through it.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from tinysim_gym.errors import TinySimError
from tinysim_gym.experiments.refs import package_dirs

__all__ = ["LocalPool", "Pool", "RayPool", "check_backend", "make_pool"]

T = TypeVar("T")
R = TypeVar("R")


class Pool(Protocol):
    """Runs ``fn`` over items somewhere and yields the results as they finish."""

    name: str

    def describe(self) -> str:
        """One line for a summary."""
        ...

    def imap(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        """Apply ``fn`` to every item; yield the results in the order they finish."""
        ...

    def close(self) -> None:
        """Release the workers."""
        ...


def _worker_init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per worker (agents' torch), CPUs are the pool's


class LocalPool:
    """Local worker processes (``processes=1``, or a single item: run in this process, no pool).

    The processes start on the first :meth:`imap` that needs them (at most one per item) and serve every
    later call until :meth:`close`, so a caller running many small batches pays the start-up once. A call
    left before its end (an error, Ctrl-C) stops the workers; the next call starts new ones.

    Args:
        processes: worker processes (default: the number of CPUs).
        start_method: multiprocessing start method (``fork`` where available: workers start at once).
    """

    name = "local"

    def __init__(self, processes: int | None = None, start_method: str | None = None) -> None:
        self.processes = max(1, processes or os.cpu_count() or 1)
        self.start_method = start_method
        self._pool: Any = None

    def describe(self) -> str:
        """One line for the summary."""
        return f"local ({self.processes} process{'es' if self.processes > 1 else ''})"

    def imap(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        """Apply ``fn`` to every item and yield the results as they finish (in any order).

        The worker processes exist when this returns (before the caller starts threads such as a
        progress bar's), so that forking never copies a running thread.
        """
        if self.processes == 1 or len(items) <= 1:
            return (fn(item) for item in items)
        if self._pool is None:
            import multiprocessing as mp

            methods = mp.get_all_start_methods()
            ctx = mp.get_context(self.start_method or ("fork" if "fork" in methods else None))
            self._pool = ctx.Pool(min(self.processes, len(items)), initializer=_worker_init)
        return self._drain(self._pool.imap_unordered(fn, items, chunksize=1))

    def _drain(self, results: Iterator[R]) -> Iterator[R]:
        finished = False
        try:
            yield from results
            finished = True
        finally:
            if not finished:  # unfinished tasks cannot be withdrawn from a pool: stop its workers
                self.close()

    def close(self) -> None:
        """Stop the worker processes."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.terminate()
            pool.join()


def _run_batch(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    return [fn(item) for item in items]


class RayPool:
    """Ray tasks: on a local Ray instance started here (dashboard off), or on a running cluster.

    Args:
        address: a running cluster (``auto``, ``HOST:6379`` or ``ray://HOST:10001``); ``None`` starts a local
            instance with ``processes`` CPUs, shut down again by :meth:`close`. When Ray is already
            initialised in this process, that session is used and left running.
        processes: CPUs of the local instance (default: the number of CPUs).
        ship: top-level packages to upload to the cluster's workers (Ray ``runtime_env.py_modules``)
            instead of relying on an install there.
    """

    name = "ray"

    def __init__(self, address: str | None = None, processes: int | None = None, ship: Sequence[str] = ()) -> None:
        try:
            import ray
        except ImportError:
            raise TinySimError("--backend ray: Ray is not installed (pip install ray)") from None

        self.ray = ray
        self.owned = not ray.is_initialized()
        self.address = address
        if self.owned:
            kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
            if ship:
                kwargs["runtime_env"] = {"py_modules": package_dirs(ship)}
            if address and address.startswith("ray://"):  # Ray Client: only what it forwards
                kwargs = {k: v for k, v in kwargs.items() if k == "runtime_env"}
            try:
                if address:
                    ray.init(address=address, **kwargs)
                else:
                    ray.init(address="local", num_cpus=max(1, processes or os.cpu_count() or 1),
                             include_dashboard=False, object_store_memory=200 * 1024 * 1024, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                first = " ".join(str(exc).split())[:200]
                where = f"--address {address}" if address else "--backend ray"
                raise TinySimError(f"{where}: cannot start or reach Ray ({first})") from None
        self.cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))

    def describe(self) -> str:
        """One line for the summary."""
        where = self.address or ("local instance" if self.owned else "existing session")
        return f"ray ({where}, {self.cpus} CPUs)"

    def imap(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        """Run ``fn`` over the items as Ray tasks (small batches, a bounded window) and yield as they finish."""
        ray = self.ray
        size = max(1, min(16, len(items) // (self.cpus * 8)))
        batches = [list(items[i : i + size]) for i in range(0, len(items), size)]
        task = ray.remote(num_cpus=1)(_run_batch)
        fn_ref = ray.put(fn)
        pending: list[Any] = []
        window = 2 * self.cpus
        todo = iter(batches)
        try:
            while True:
                for batch in itertools.islice(todo, max(0, window - len(pending))):
                    pending.append(task.remote(fn_ref, batch))
                if not pending:
                    return
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    yield from ray.get(ref)
        finally:
            for ref in pending:
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)

    def close(self) -> None:
        """Shut down the Ray instance if this pool started it."""
        if self.owned and self.ray.is_initialized():
            self.ray.shutdown()


def check_backend(backend: str, processes: int | None, address: str | None) -> None:
    """Reject a bad backend name, process count or an address without Ray (one-line errors)."""
    if processes is not None and (isinstance(processes, bool) or not isinstance(processes, int) or processes < 1):
        raise TinySimError(f"--processes: expected an integer >= 1, got {processes!r}")
    if backend == "local":
        if address:
            raise TinySimError("--address: only with --backend ray")
        return
    if backend == "ray":
        return
    raise TinySimError(f"--backend: unknown backend {backend!r} (allowed: local, ray)")


def make_pool(backend: str = "local", processes: int | None = None, address: str | None = None,
              ship: Sequence[str] = (), start_method: str | None = None) -> Pool:
    """A pool by backend name: ``local`` (processes) or ``ray``."""
    check_backend(backend, processes, address)
    if backend == "local":
        return LocalPool(processes, start_method=start_method)
    return RayPool(address, processes, ship)
