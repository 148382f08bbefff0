"""The watchdog's deadline queue: earliest first, later moves free, stale entries skipped."""

from __future__ import annotations

import random

from sharpeyes.devices.deadlines import DeadlineQueue


def test_pops_due_keys_once_in_time_order() -> None:
    q: DeadlineQueue[str] = DeadlineQueue()
    q.schedule("b", 20.0)
    q.schedule("a", 10.0)
    q.schedule("c", 30.0)
    assert q.pop_due(5.0) == []
    assert q.pop_due(20.0) == ["a", "b"]
    assert q.pop_due(20.0) == []
    assert len(q) == 1 and q.next_at() == 30.0


def test_later_schedule_keeps_the_earlier_entry_earlier_one_replaces() -> None:
    q: DeadlineQueue[str] = DeadlineQueue()
    q.schedule("a", 10.0)
    q.schedule("a", 50.0)  # later: ignored, the owner re-schedules when 10 comes due
    assert q.scheduled_at("a") == 10.0
    q.schedule("a", 3.0)  # earlier: replaces, the 10.0 entry becomes stale
    assert q.pop_due(3.0) == ["a"]
    assert q.pop_due(100.0) == []  # the stale 10.0 entry is not a second due
    q.schedule("a", 7.0)
    q.discard("a")
    assert q.pop_due(100.0) == [] and q.next_at() is None


def test_matches_a_full_scan_under_random_churn() -> None:
    rng = random.Random(5)
    q: DeadlineQueue[int] = DeadlineQueue()
    truth: dict[int, float] = {}
    now = 0.0
    for _ in range(5000):
        k = rng.randrange(200)
        op = rng.random()
        if op < 0.7:
            when = now + rng.uniform(0, 50)
            truth[k] = min(truth.get(k, when), when)
            q.schedule(k, when)
        elif op < 0.8:
            truth.pop(k, None)
            q.discard(k)
        else:
            now += rng.uniform(0, 5)
            expected = sorted(k for k, t in truth.items() if t <= now)
            for k in expected:
                del truth[k]
            assert sorted(q.pop_due(now)) == expected
