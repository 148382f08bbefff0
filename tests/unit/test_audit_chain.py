"""The hash chain, pure: each kind of tampering is found at the right row."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from sharpeyes.audit.chain import GENESIS, canonical, canonical_detail, row_hash, verify


@dataclass
class Row:
    id: int
    at: datetime
    actor: str
    actor_name: str
    org_id: int | None
    action: str
    target_type: str
    target_id: str
    outcome: str
    client_ip: str | None
    detail: str
    prev_hash: str | None = None
    hash: str | None = None


def chain(n: int) -> list[Row]:
    rows, prev = [], GENESIS
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(1, n + 1):
        r = Row(
            i,
            t0 + timedelta(seconds=i),
            f"user:{i}",
            "张三",
            7,
            "live.play",
            "channel",
            f"3402000000131000000{i % 10}",
            "ok",
            "10.0.0.1",
            canonical_detail({"n": i}),
        )
        r.prev_hash = prev
        r.hash = row_hash(prev, r)
        prev = r.hash
        rows.append(r)
    return rows


def test_intact_chain_verifies() -> None:
    v = verify(chain(5))
    assert v.ok and v.rows == 5 and v.first_bad is None
    assert verify([]).ok


def test_changed_row_is_found_at_that_row() -> None:
    rows = chain(5)
    rows[2].outcome = "denied"
    v = verify(rows)
    assert not v.ok and v.first_bad == 3 and "hash" in (v.reason or "")


def test_deleted_row_is_found_at_its_successor() -> None:
    rows = chain(5)
    del rows[1]
    v = verify(rows)
    assert not v.ok and v.first_bad == 3 and "link" in (v.reason or "")


def test_inserted_row_is_found() -> None:
    rows = chain(4)
    forged = dataclasses.replace(rows[1], id=99, prev_hash=rows[1].hash, hash="f" * 64)
    rows.insert(2, forged)
    assert verify(rows).first_bad == 99
    # Even with a correctly computed hash, the next row no longer links to it.
    forged.hash = row_hash(forged.prev_hash or "", forged)
    assert verify(rows).first_bad == rows[3].id


def test_checkpoint_start() -> None:
    rows = chain(6)
    assert not verify(rows[3:]).ok  # starts mid-chain: the genesis link fails
    assert verify(rows[3:], start_hash=rows[2].hash or "").ok


@given(
    detail=st.dictionaries(st.text(max_size=8), st.one_of(st.integers(), st.text(max_size=8))),
    name=st.text(max_size=20),
)
def test_canonical_form_is_total_and_sensitive(detail: dict[str, object], name: str) -> None:
    r = chain(1)[0]
    r.detail = canonical_detail(detail)
    r.actor_name = name
    base = canonical(r)
    assert base == canonical(dataclasses.replace(r))  # deterministic
    changed = dataclasses.replace(r, actor_name=name + "x")
    assert canonical(changed) != base
