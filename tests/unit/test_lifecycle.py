"""The composition root's lifecycle: dependency order up, reverse down, partial starts."""

from __future__ import annotations

import asyncio

import pytest

from sharpeyes.lifecycle import Component, Lifecycle, Step


def _steps(log: list[str], fail_at: str | None = None) -> list[Component]:
    def starter(name: str):  # type: ignore[no-untyped-def]
        async def start() -> None:
            if name == fail_at:
                raise RuntimeError(f"{name} cannot start")
            log.append(f"+{name}")

        return start

    def stopper(name: str):  # type: ignore[no-untyped-def]
        return lambda: log.append(f"-{name}")  # a sync hook is accepted too

    return [Step(n, starter(n), stopper(n), lambda n=n: {"n": n}) for n in ("a", "b", "c")]


def test_starts_in_order_and_stops_in_reverse() -> None:
    log: list[str] = []
    lc = Lifecycle(_steps(log))
    asyncio.run(lc.start())
    assert lc.started == ["a", "b", "c"]
    asyncio.run(lc.stop())
    assert log == ["+a", "+b", "+c", "-c", "-b", "-a"]
    assert lc.started == []
    asyncio.run(lc.stop())  # a second stop stops nothing twice
    assert log.count("-a") == 1


def test_stop_without_start_is_a_no_op() -> None:
    log: list[str] = []
    asyncio.run(Lifecycle(_steps(log)).stop())
    assert log == []


def test_failed_start_stops_what_had_started() -> None:
    log: list[str] = []
    lc = Lifecycle(_steps(log, fail_at="c"))
    with pytest.raises(RuntimeError, match="c cannot start"):
        asyncio.run(lc.start())
    assert log == ["+a", "+b", "-b", "-a"]


def test_a_failing_stop_does_not_keep_the_rest_running() -> None:
    log: list[str] = []

    def boom() -> None:
        raise OSError("disk gone")

    lc = Lifecycle([Step("a", None, lambda: log.append("-a")), Step("b", None, boom)])
    asyncio.run(lc.start())
    asyncio.run(lc.stop())
    assert log == ["-a"]


def test_stats_by_component_name() -> None:
    lc = Lifecycle([*_steps([]), Step("quiet")])
    assert lc.stats() == {"a": {"n": "a"}, "b": {"n": "b"}, "c": {"n": "c"}}
    assert isinstance(lc["a"], Component)


def test_names_are_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        Lifecycle([Step("a"), Step("a")])
