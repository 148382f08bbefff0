from __future__ import annotations

import pytest

from sharpeyes.sharing.throttle import FailureThrottle


def test_locks_after_max_failures_within_window() -> None:
    t = FailureThrottle(max_failures=3, window_s=60, lockout_s=300)
    assert t.record_failure("ip", 0) == 0
    assert t.record_failure("ip", 10) == 0
    assert t.is_locked("ip", 10) == 0
    assert t.record_failure("ip", 20) == 300
    assert t.is_locked("ip", 20) == 300
    assert t.is_locked("ip", 100) == pytest.approx(220)
    assert t.is_locked("other", 100) == 0


def test_lock_expires_and_counting_restarts() -> None:
    t = FailureThrottle(max_failures=2, window_s=60, lockout_s=30)
    t.record_failure("k", 0)
    t.record_failure("k", 1)
    assert t.is_locked("k", 30.9) > 0
    assert t.is_locked("k", 31) == 0
    assert t.record_failure("k", 32) == 0  # a fresh count after the lock
    assert t.record_failure("k", 33) == 30


def test_failures_outside_window_are_forgotten() -> None:
    t = FailureThrottle(max_failures=3, window_s=60, lockout_s=300)
    t.record_failure("k", 0)
    t.record_failure("k", 30)
    t.record_failure("k", 61)  # the one at t=0 has aged out
    assert t.is_locked("k", 61) == 0
    t.record_failure("k", 62)
    assert t.is_locked("k", 62) == 300


def test_failures_while_locked_do_not_extend_lock() -> None:
    t = FailureThrottle(max_failures=1, window_s=60, lockout_s=100)
    t.record_failure("k", 0)
    assert t.record_failure("k", 50) == 50
    assert t.is_locked("k", 99) == 1
    assert t.is_locked("k", 100) == 0


def test_success_resets() -> None:
    t = FailureThrottle(max_failures=3, window_s=60, lockout_s=300)
    t.record_failure("k", 0)
    t.record_failure("k", 1)
    t.record_success("k")
    t.record_failure("k", 2)
    t.record_failure("k", 3)
    assert t.is_locked("k", 3) == 0
    t.record_success("never-seen")  # harmless


def test_memory_is_bounded_and_oldest_evicted() -> None:
    t = FailureThrottle(max_failures=1, window_s=60, lockout_s=300, max_keys=100)
    t.record_failure("first", 0)
    for i in range(10_000):
        t.record_failure(f"spray-{i}", 1)
        assert len(t) <= 100
    assert len(t) == 100
    assert t.is_locked("first", 2) == 0  # evicted
    assert t.is_locked("spray-9999", 2) > 0  # recent ones kept


def test_recently_touched_key_survives_eviction() -> None:
    t = FailureThrottle(max_failures=5, window_s=600, lockout_s=300, max_keys=3)
    t.record_failure("a", 0)
    t.record_failure("b", 0)
    t.record_failure("c", 0)
    t.record_failure("a", 1)  # a is now the most recent
    t.record_failure("d", 2)  # evicts b
    for _ in range(3):
        t.record_failure("a", 3)
    assert t.is_locked("a", 3) == 300  # all 5 of a's failures were kept


def test_expired_lock_entries_are_dropped() -> None:
    t = FailureThrottle(max_failures=1, window_s=60, lockout_s=10)
    t.record_failure("k", 0)
    assert len(t) == 1
    assert t.is_locked("k", 11) == 0
    assert len(t) == 0


def test_invalid_parameters() -> None:
    with pytest.raises(ValueError):
        FailureThrottle(max_failures=0, window_s=60, lockout_s=60)
    with pytest.raises(ValueError):
        FailureThrottle(max_failures=1, window_s=60, lockout_s=60, max_keys=0)
