"""The operator's work queue: dedup, earliest due time wins, per-key backoff, contained failures."""

from __future__ import annotations

import threading
from collections.abc import Hashable

import pytest

from modelops_operator.workqueue import Backoff, WorkQueue


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """Work that records each run and answers with a scripted requeue or failure per key."""

    def __init__(self) -> None:
        self.ran: list[Hashable] = []
        self.requeue: dict[Hashable, float | None] = {}
        self.failing: set[Hashable] = set()
        self.reports: list[tuple[Hashable, str, float]] = []

    def work(self, key: Hashable) -> float | None:
        self.ran.append(key)
        if key in self.failing:
            raise RuntimeError(f"{key} is broken")
        return self.requeue.get(key)

    def report(self, key: Hashable, error: Exception, delay: float) -> None:
        self.reports.append((key, str(error), delay))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def queue(clock: Clock, rec: Recorder) -> WorkQueue:
    return WorkQueue(rec.work, rec.report, Backoff(1.0, 8.0), clock=clock)


def test_a_key_added_many_times_runs_once(queue: WorkQueue, rec: Recorder) -> None:
    for _ in range(5):
        queue.add("a")
    queue.add("b")
    assert queue.run_due() == 2
    assert sorted(rec.ran) == ["a", "b"]


def test_the_earliest_due_time_wins(queue: WorkQueue, rec: Recorder, clock: Clock) -> None:
    queue.add("a", delay=30)
    queue.add("a", delay=5)
    queue.add("a", delay=60)
    clock.now += 4
    assert queue.run_due() == 0
    clock.now += 1
    assert queue.run_due() == 1
    clock.now += 100
    assert queue.run_due() == 0, "the later adds were folded into the earliest one"


def test_requeue_time_comes_from_the_work(queue: WorkQueue, rec: Recorder, clock: Clock) -> None:
    rec.requeue["a"] = 2.0
    queue.add("a")
    queue.run_due()
    assert queue.pending() == {"a": 2.0}
    clock.now += 2
    queue.run_due()
    assert rec.ran == ["a", "a"]


def test_no_requeue_means_idle(queue: WorkQueue, rec: Recorder, clock: Clock) -> None:
    queue.add("a")
    queue.run_due()
    clock.now += 10_000
    assert queue.run_due() == 0
    assert queue.pending() == {}


def test_one_failing_key_backs_off_alone_and_the_others_go_on(
    queue: WorkQueue, rec: Recorder, clock: Clock
) -> None:
    rec.failing.add("bad")
    for key in ("good-1", "bad", "good-2"):
        queue.add(key)
    assert queue.run_due() == 3
    assert sorted(rec.ran) == ["bad", "good-1", "good-2"]
    delays = []
    for _ in range(5):
        delays.append(queue.pending()["bad"])
        clock.now += queue.pending()["bad"]
        queue.run_due()
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0], "exponential backoff, capped"
    assert [r[2] for r in rec.reports] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert rec.reports[0][:2] == ("bad", "bad is broken")
    assert queue.failures("bad") == 6


def test_success_resets_the_backoff(queue: WorkQueue, rec: Recorder, clock: Clock) -> None:
    rec.failing.add("a")
    queue.add("a")
    queue.run_due()
    clock.now += 1
    queue.run_due()
    assert queue.failures("a") == 2
    rec.failing.clear()
    clock.now += 2
    queue.run_due()
    assert queue.failures("a") == 0
    rec.failing.add("a")
    queue.add("a")
    queue.run_due()
    assert queue.pending()["a"] == 1.0


def test_an_add_during_a_run_runs_the_key_once_more_afterwards(clock: Clock) -> None:
    ran: list[str] = []
    holder: dict[str, WorkQueue] = {}

    def work(key: Hashable) -> float | None:
        ran.append(str(key))
        if len(ran) == 1:
            holder["q"].add(key)  # an event arrives while this key is being reconciled
            assert holder["q"].pending() == {}, "a running key is never queued beside itself"
        return None

    queue = WorkQueue(work, lambda *_: None, clock=clock)
    holder["q"] = queue
    queue.add("a")
    assert queue.run_due() == 2
    assert ran == ["a", "a"]


def test_a_failing_error_report_does_not_lose_the_retry(clock: Clock) -> None:
    def report(*_: object) -> None:
        raise RuntimeError("apiserver down")

    def work(_: Hashable) -> float | None:
        raise ValueError("boom")

    queue = WorkQueue(work, report, clock=clock)
    queue.add("a")
    queue.run_due()
    assert queue.pending() == {"a": 1.0}


def test_worker_threads_never_run_one_key_twice_at_once() -> None:
    active: set[Hashable] = set()
    overlaps: list[Hashable] = []
    done = threading.Event()
    counts: dict[Hashable, int] = {}
    lock = threading.Lock()

    def work(key: Hashable) -> float | None:
        with lock:
            if key in active:
                overlaps.append(key)
            active.add(key)
            counts[key] = counts.get(key, 0) + 1
        with lock:
            active.discard(key)
            if sum(counts.values()) >= 200:
                done.set()
        return 0.0 if counts[key] < 40 else None

    queue = WorkQueue(work, lambda *_: None)
    queue.start(workers=4)
    try:
        for key in range(5):
            queue.add(key)
        assert done.wait(timeout=30), f"the workers stopped early: {counts}"
    finally:
        queue.stop()
    assert overlaps == []
    assert set(counts) == set(range(5))


def test_a_key_that_never_ran_goes_before_the_due_looks_again(
    queue: WorkQueue, rec: Recorder, clock: Clock
) -> None:
    """A burst: the first reconcile of every new object (it creates the Deployment) comes before the
    second looks of older ones, even those due earlier."""
    for key in ("old-1", "old-2"):
        queue.add(key)
    queue.run_due()
    queue.add("old-1")  # e.g. its Deployment's status changed
    queue.add("old-2")
    clock.now += 1
    queue.add("new-1")
    queue.add("new-2")
    rec.ran.clear()
    assert queue.run_due() == 4
    assert rec.ran == ["new-1", "new-2", "old-1", "old-2"]


def test_a_forgotten_key_counts_as_new_again(queue: WorkQueue, rec: Recorder, clock: Clock) -> None:
    queue.add("a")
    queue.run_due()
    queue.add("a")
    queue.forget("a")  # the object was deleted; one of the same name is created
    queue.add("b")
    queue.run_due()
    rec.ran.clear()
    queue.add("b")
    queue.forget("a")
    queue.add("a")
    queue.run_due()
    assert rec.ran == ["a", "b"]


def test_only_the_keys_first_selects_jump_the_queue(rec: Recorder, clock: Clock) -> None:
    queue: WorkQueue = WorkQueue(
        rec.work, rec.report, clock=clock, first=lambda key: str(key).startswith("md")
    )
    queue.add("mv-1")
    clock.now += 1
    queue.add("md-1")
    queue.run_due()
    assert rec.ran == ["md-1", "mv-1"]


def test_the_safety_resync_waits_until_nothing_else_is_due(rec: Recorder, clock: Clock) -> None:
    """A requeue at a readiness deadline does not wait behind a resync of every object."""
    queue: WorkQueue = WorkQueue(rec.work, rec.report, clock=clock)
    for key in ("a", "b", "c"):
        queue.add(key)
    queue.run_due()
    rec.ran.clear()
    for key in ("b", "c"):
        queue.add(key, background=True)
    clock.now += 1
    queue.add("a")  # e.g. its readiness deadline
    queue.add("c")  # an event moves a resynced key forward
    queue.run_due()
    assert rec.ran == ["c", "a", "b"]
