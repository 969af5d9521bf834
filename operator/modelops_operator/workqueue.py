"""The operator's work queue: every reconcile runs from here, one object at a time, on its own schedule.

`handlers` adds keys on watch events (a ModelDeployment, the ModelVersion it names, the Deployments and
pods it owns) and on the slow safety resync; workers run the reconcile and re-add the key at the time
the plan asks for ("look again in T"). This replaces polling every object: idle objects cost nothing.

The rules are controller-runtime's: a key is queued at most once (the earliest due time wins), never
processed by two workers at once (an add while it runs marks it for one more run after), and a failure
of one object — any exception — is contained: it is reported through `on_error` and retried for that
key alone with exponential backoff, while every other key goes on. A key that never ran yet (and that
`first` selects: the handlers pick ModelDeployments) goes first among the due ones: in a burst of new
objects, each one's first reconcile (the one that creates its Deployment) does not wait behind the
second looks of those before it, nor behind the ModelVersions' status writes. A `background` add (the
safety resync of every object) runs only when nothing else is due, so a requeue at a readiness
deadline or a watch event never waits behind a thousand resyncs.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Key = TypeVar("Key", bound=Hashable)


@dataclass(frozen=True)
class Backoff:
    """Per-key retry delays after failures: base * 2^(failures-1), capped."""

    base_seconds: float = 1.0
    max_seconds: float = 300.0

    def delay(self, failures: int) -> float:
        return float(min(self.max_seconds, self.base_seconds * 2 ** max(0, failures - 1)))


class WorkQueue(Generic[Key]):
    """Keys due at a time; `run_due` (tests) or `start` (worker threads) processes them."""

    def __init__(
        self,
        work: Callable[[Key], float | None],
        on_error: Callable[[Key, Exception, float], None],
        backoff: Backoff = Backoff(),
        clock: Callable[[], float] = time.monotonic,
        first: Callable[[Key], bool] = lambda key: True,
    ) -> None:
        self._work, self._on_error, self._backoff, self._clock = work, on_error, backoff, clock
        self._first = first
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Key]] = []  # keys that ran before
        self._fresh: list[tuple[float, int, Key]] = []  # keys that never ran: served first
        self._background: list[tuple[float, int, Key]] = []  # the safety resync: served last
        self._ran: set[Key] = set()
        self._behind: set[Key] = set()  # queued in the background heap only
        self._due: dict[Key, float] = {}
        self._running: set[Key] = set()
        self._again: dict[Key, float] = {}
        self._failures: dict[Key, int] = {}
        self._order = itertools.count()
        self._stopped = False

    def add(self, key: Key, delay: float = 0.0, *, background: bool = False) -> None:
        """Queue `key` to run in `delay` seconds (an earlier due time already queued wins);
        `background`: only when no other key is due (a plain add of it later moves it forward)."""
        due = self._clock() + max(0.0, delay)
        with self._cond:
            if key in self._running:
                if not background:
                    self._again[key] = min(due, self._again.get(key, due))
                return
            self._schedule(key, due, background=background)

    def _schedule(self, key: Key, due: float, *, background: bool = False) -> None:
        if key in self._due and self._due[key] <= due and (background or key not in self._behind):
            return
        due = min(due, self._due.get(key, due))
        self._due[key] = due
        if background:
            self._behind.add(key)
            heapq.heappush(self._background, (due, next(self._order), key))
            self._cond.notify()
            return
        self._behind.discard(key)
        heap = self._fresh if key not in self._ran and self._first(key) else self._heap
        heapq.heappush(heap, (due, next(self._order), key))
        self._cond.notify()

    def forget(self, key: Key) -> None:
        """The object is gone: a later key of the same name counts as new again."""
        with self._cond:
            self._ran.discard(key)
            self._failures.pop(key, None)

    def pending(self) -> dict[Key, float]:
        """Queued keys and the seconds until each is due (for tests and the metrics)."""
        now = self._clock()
        with self._cond:
            return {key: due - now for key, due in self._due.items()}

    def failures(self, key: Key) -> int:
        """Consecutive failures of `key` (0 after a success)."""
        with self._cond:
            return self._failures.get(key, 0)

    def _pop_due(self, now: float) -> Key | None:
        for heap in (self._fresh, self._heap, self._background):
            key = self._pop_from(heap, now)
            if key is not None:
                self._behind.discard(key)
                self._running.add(key)
                self._ran.add(key)
                return key
        return None

    def _pop_from(self, heap: list[tuple[float, int, Key]], now: float) -> Key | None:
        while heap:
            due, _, key = heap[0]
            if self._due.get(key) != due:  # superseded by an earlier add
                heapq.heappop(heap)
                continue
            if due > now:
                return None
            heapq.heappop(heap)
            del self._due[key]
            return key
        return None

    def _seconds_to_next(self, now: float) -> float | None:
        heads = [heap[0][0] for heap in (self._fresh, self._heap, self._background) if heap]
        return max(0.0, min(heads) - now) if heads else None

    def process(self, key: Key) -> None:
        """Run the work for `key` (already marked running) and schedule what follows."""
        try:
            requeue = self._work(key)
        except Exception as error:  # contained: this key backs off, the others go on
            failures = self._failures.get(key, 0) + 1
            delay = self._backoff.delay(failures)
            self._report(key, error, delay)
            self._finish(key, delay, failures)
        else:
            self._finish(key, requeue, 0)

    def _report(self, key: Key, error: Exception, delay: float) -> None:
        try:
            self._on_error(key, error, delay)
        except Exception:  # reporting is best effort; the retry is what matters
            log.exception("could not report the failure of %s", key)

    def _finish(self, key: Key, requeue: float | None, failures: int) -> None:
        now = self._clock()
        with self._cond:
            self._running.discard(key)
            if failures:
                self._failures[key] = failures
            else:
                self._failures.pop(key, None)
            if requeue is not None:
                self._schedule(key, now + requeue)
            if key in self._again:
                self._schedule(key, self._again.pop(key))

    def run_due(self) -> int:
        """Process, in this thread, every key due now; return how many ran (tests drive time this way)."""
        ran = 0
        while True:
            with self._cond:
                key = self._pop_due(self._clock())
            if key is None:
                return ran
            self.process(key)
            ran += 1

    def _next_key(self) -> Key | None:
        """Wait for a due key; None once stopped."""
        with self._cond:
            while not self._stopped:
                key = self._pop_due(self._clock())
                if key is not None:
                    return key
                self._cond.wait(self._seconds_to_next(self._clock()))
            return None

    def _worker(self) -> None:
        while (key := self._next_key()) is not None:
            self.process(key)

    def start(self, workers: int) -> None:
        """Start `workers` daemon threads that process keys as they fall due."""
        for number in range(workers):
            threading.Thread(target=self._worker, name=f"reconcile-{number}", daemon=True).start()

    def stop(self) -> None:
        """Let the worker threads end after their current key."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
