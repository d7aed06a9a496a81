"""Run one function over many items on a few threads, with every wait bounded.

Used for the concurrent parts of a sync: writes to Coverbase, plan-time reads, attachment
downloads and content probes. Why not ``concurrent.futures.ThreadPoolExecutor``: its worker
threads are joined when the interpreter exits (and by ``with``), so a worker stuck in a socket
read keeps a failed or terminated run's process alive. Here:

- workers are daemon threads; the caller never joins one that is still busy;
- the caller waits for results in steps of ``poll`` seconds and checks the run's deadline
  between steps, so the whole map ends by the deadline even if every worker is stuck;
- a worker error that ``is_fatal`` says stops the run makes the workers take no new items;
  results of items already in flight are still handed to ``on_result`` (their writes happened
  and must be recorded), then the error is raised;
- any other error in a worker is a bug in ``fn`` (which must turn a record's problem into that
  record's outcome) and is raised the same way.

Lock order: see docs/architecture.md, "Locks and waits". The queues here are the only shared
state; a worker holds no lock while it runs ``fn``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from connector.deadline import Deadline

T = TypeVar("T")
R = TypeVar("R")

_DONE = object()


class _Outcome(Generic[R]):
    __slots__ = ("index", "value", "error")

    def __init__(self, index: int, value: R | None, error: BaseException | None) -> None:
        self.index, self.value, self.error = index, value, error


def run_all(fn: Callable[[T], R], items: Iterable[T], *, workers: int, deadline: Deadline | None = None,
            name: str = "worker", on_result: Callable[[T, R], None] | None = None,
            doing: str = "", poll: float = 0.5) -> list[R]:
    """``[fn(item) for item in items]`` on up to ``workers`` daemon threads, in input order.

    ``on_result(item, result)`` runs in the calling thread as each result arrives (in completion
    order). Raises the first worker error (after recording the in-flight results), or
    ``RunTimeExceeded`` when the deadline passes first."""
    todo = list(items)
    if not todo:
        return []
    deadline = deadline or Deadline.never()
    work: queue.SimpleQueue[tuple[int, T] | object] = queue.SimpleQueue()
    done: queue.SimpleQueue[_Outcome[R]] = queue.SimpleQueue()
    stop = threading.Event()
    for pair in enumerate(todo):
        work.put(pair)
    n = max(1, min(workers, len(todo)))
    for _ in range(n):
        work.put(_DONE)

    def loop() -> None:
        while not stop.is_set():
            try:
                job = work.get_nowait()  # filled before the threads started: an empty queue means done
            except queue.Empty:
                return
            if job is _DONE:
                return
            index, item = job  # type: ignore[misc]
            try:
                done.put(_Outcome(index, fn(item), None))
            except BaseException as exc:  # noqa: BLE001 - handed to the calling thread, which raises it
                done.put(_Outcome(index, None, exc))

    for i in range(n):
        threading.Thread(target=loop, name=f"{name}-{i}", daemon=True).start()

    results: list[R | None] = [None] * len(todo)
    received = 0
    started = len(todo)  # items a worker may have taken; shrinks once we stop handing out work
    error: BaseException | None = None
    while received < started:
        deadline.check(doing or f"waiting for {name} threads")
        try:
            out = done.get(timeout=max(0.01, min(poll, deadline.remaining())))
        except queue.Empty:
            continue
        received += 1
        if out.error is not None:
            if error is None:
                error = out.error
                stop.set()
                started = _taken(work, len(todo), n)
            continue
        results[out.index] = out.value
        if on_result is not None:
            on_result(todo[out.index], out.value)  # type: ignore[arg-type]
    if error is not None:
        raise error
    return results  # type: ignore[return-value]


def _taken(work: queue.SimpleQueue, total: int, threads: int) -> int:
    """After a stop: take back the items no worker took yet (they are planned again next run) and
    return how many results are still coming. Every thread still gets its end marker."""
    left = 0
    while True:
        try:
            job = work.get_nowait()
        except queue.Empty:
            break
        if job is not _DONE:
            left += 1
    for _ in range(threads):
        work.put(_DONE)
    return total - left
