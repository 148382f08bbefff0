"""Bounded fuzzing of every parser in CI (hypothesis): random bytes and mutated seeds.

The budget is ``SHARPEYES_FUZZ_EXAMPLES`` inputs per target and strategy (default
100: the whole file stays well under a minute on a loaded CI box). Long runs use
the coverage-guided ``tests/fuzz/run_atheris.py`` (see docs/operations.md).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.targets import TARGETS, seeds

EXAMPLES = int(os.environ.get("SHARPEYES_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


@st.composite
def mutated(draw: st.DrawFn, target: str) -> bytes:
    """A seed with a few byte-level edits: flips, inserts, deletes, truncation, splices."""
    data = bytearray(draw(st.sampled_from(seeds(target))))
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "cut", "dup"]))
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[i] = draw(st.sampled_from([0, 0xFF, 0x7F, 0x80, ord("<"), ord("\n"), ord(":")]))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[i : i + draw(st.integers(1, 16))]
        elif op == "cut":
            del data[i:]
        else:
            data[i:i] = data[i : i + draw(st.integers(1, 64))] * draw(st.integers(1, 4))
    return bytes(data)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_seeds_parse(target: str) -> None:
    """The seeds are valid inputs (a mutated invalid seed would fuzz less)."""
    for data in seeds(target):
        TARGETS[target](data)


@pytest.mark.parametrize("target", sorted(TARGETS))
@FUZZ
@given(data=st.data())
def test_random_bytes(target: str, data: st.DataObject) -> None:
    TARGETS[target](data.draw(st.binary(max_size=4096)))


@pytest.mark.parametrize("target", sorted(TARGETS))
@FUZZ
@given(data=st.data())
def test_mutated_seeds(target: str, data: st.DataObject) -> None:
    TARGETS[target](data.draw(mutated(target)))
