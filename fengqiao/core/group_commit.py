"""Group commit: the concurrent requests of one server process write their rows together.

A request that would write a few rows in a transaction of its own (a new case: a number, the
case, its first event, its notices) submits them as a job instead. The first thread to find the
writer free takes every job waiting at that moment, its own included, and writes them with one
call, in one transaction; the others wait for it and take their own results. While it writes,
the next jobs gather, and the next free thread writes those. Nobody waits on a timer: a request
alone is written at once, and under load each transaction carries what arrived meanwhile, so the
database's work per request falls as the load rises (one number-counter update per township
instead of one per request, one insert per table, one commit).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

J = TypeVar("J")
R = TypeVar("R")


class GroupWriteFailed(Exception):
    """The write of a group failed; every request of the group hears of it (the cause is chained)."""


class _Entry(Generic[J, R]):
    __slots__ = ("done", "error", "job", "result")

    def __init__(self, job: J):
        self.job = job
        self.result: R | None = None
        self.error: BaseException | None = None
        self.done = False


class GroupCommit(Generic[J, R]):
    """`submit(job)` from any thread; `write(jobs)` returns one result per job, in order, and runs
    in the thread of one of the submitters (so with its database connection), one call at a time,
    with at most `max_group` jobs."""

    def __init__(self, write: Callable[[list[J]], Sequence[R]], *, max_group: int = 200):
        self._write = write
        self._max_group = max_group
        self._queue: list[_Entry[J, R]] = []
        self._queue_lock = threading.Lock()
        self._writer = threading.Lock()

    def submit(self, job: J) -> R:
        """The job's result, once its group is written; GroupWriteFailed when that write failed."""
        entry: _Entry[J, R] = _Entry(job)
        with self._queue_lock:
            self._queue.append(entry)
        while not entry.done:
            with self._writer:
                if entry.done:  # written by the thread that held the writer meanwhile
                    break
                with self._queue_lock:
                    group, self._queue = self._queue[:self._max_group], self._queue[self._max_group:]
                self._write_group(group)
        if entry.error is not None:
            raise GroupWriteFailed(str(entry.error)) from entry.error
        return entry.result  # type: ignore[return-value]

    def waiting(self) -> int:
        """How many jobs wait for a writer now."""
        with self._queue_lock:
            return len(self._queue)

    def _write_group(self, group: list[_Entry[J, R]]) -> None:
        try:
            results = self._write([entry.job for entry in group])
            if len(results) != len(group):
                raise RuntimeError(f"{len(results)} results for {len(group)} jobs")
            for entry, result in zip(group, results, strict=True):
                entry.result = result
        except Exception as error:  # every request of the group hears of it; the process goes on
            for entry in group:
                entry.error = error
        finally:
            for entry in group:
                entry.done = True
