"""Independent tasks run in this process, in local processes or on a Dask distributed cluster, results yielded as
they finish (``abc-inverse bench-stats``, and ``abc-inverse fit`` on many photos)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

CONNECT_TIMEOUT_S = 30  # how long to try reaching a Dask scheduler


def completed(function: Callable, tasks: list[tuple], scheduler: str | None = None, workers: int = 1) -> Iterator:
    """Yield ``function(*task)`` for every task, in the order they finish: on the Dask scheduler at ``scheduler``
    (tcp://host:port) if given, else in ``workers`` local processes (spawned; 1 = in this process). ``function``
    must be importable by name (a module-level function) for the processes and workers to run it.

    Raises ValueError for ``workers`` < 1 or an unreachable scheduler; a task's own exception is raised here."""
    if workers < 1:
        raise ValueError(f"workers: expected an integer ≥ 1, got {workers}")
    return _run(function, tasks, scheduler, workers)


def _run(function: Callable, tasks: list[tuple], scheduler: str | None, workers: int) -> Iterator:
    if scheduler:
        from distributed import Client, as_completed

        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, ValueError, TypeError) as exc:
            raise ValueError(f"scheduler: cannot reach a Dask scheduler at {scheduler!r} ({exc})") from None
        with client:
            futures = [client.submit(function, *task, pure=False) for task in tasks]
            for future in as_completed(futures):
                yield future.result()
    elif workers == 1:
        for task in tasks:
            yield function(*task)
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from multiprocessing import get_context

        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(function, *task) for task in tasks]
            for future in as_completed(futures):
                yield future.result()
