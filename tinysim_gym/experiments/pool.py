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

__all__ = ["LocalPool", "Pool", "RayPool", "check_backend", "make_pool", "probe_address"]

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
            if address:
                probe_address(address)
            try:
                if address:
                    _within(CONNECT_TIMEOUT_S * 6, ray.init, address=address, **kwargs)
                else:
                    ray.init(address="local", num_cpus=max(1, processes or os.cpu_count() or 1),
                             include_dashboard=False, object_store_memory=200 * 1024 * 1024, **kwargs)
            except TimeoutError:
                raise TinySimError(f"--address {address}: cannot reach Ray (it did not answer within "
                                   f"{CONNECT_TIMEOUT_S * 6:g} s)") from None
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


#: seconds to wait for a cluster's port to accept a connection before giving up on it
CONNECT_TIMEOUT_S = 5.0


def probe_address(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Check that a Ray address (``HOST:PORT`` or ``ray://HOST:PORT``) accepts a TCP connection, in bounded time.

    Ray itself retries an unreachable address for minutes; this fails at once (a refused port) or after
    ``timeout_s`` (no answer). ``auto`` and other addresses without a port are left to Ray, which finds no
    running instance quickly.

    Raises:
        TinySimError: one line naming the address and the reason.
    """
    import socket

    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or not host:
        return
    host = host.strip("[]")  # [::1]:6379
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except (OSError, OverflowError) as exc:  # OverflowError: a port beyond 65535
        reason = "no answer" if isinstance(exc, TimeoutError) else (getattr(exc, "strerror", None) or str(exc))
        raise TinySimError(f"--address {address}: cannot reach Ray ({reason} within {timeout_s:g} s)") from None


def _within(timeout_s: float, fn: Callable[..., Any], **kwargs: Any) -> Any:
    """``fn(**kwargs)``, or :class:`TimeoutError` after ``timeout_s``: a port that accepts but never speaks Ray.

    The call runs in a daemon thread, which is left behind on a timeout (it cannot be stopped); the command
    then ends with its one-line error and the thread with the process.
    """
    import threading

    box: dict[str, Any] = {}

    def call() -> None:
        try:
            box["value"] = fn(**kwargs)
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=call, name="ray-connect", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise TimeoutError(f"no answer within {timeout_s:g} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


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
