"""The hash chain, pure: canonical form of a row and the walk that finds the first break.

hash(row) = hex SHA-256 of ``prev_hash + "\\n" + canonical(row)``, where the
canonical form is a compact JSON array of the row's fields in a fixed order
(id included, so a row moved or re-numbered breaks the chain as well).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

GENESIS = "0" * 64


class ChainRow(Protocol):
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
    prev_hash: str | None
    hash: str | None


def canonical_detail(detail: dict[str, Any] | None) -> str:
    return json.dumps(
        detail or {}, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str
    )


def canonical(row: ChainRow) -> str:
    at = row.at.astimezone(UTC).isoformat(timespec="microseconds")
    fields = [
        row.id,
        at,
        row.actor,
        row.actor_name,
        row.org_id,
        row.action,
        row.target_type,
        row.target_id,
        row.outcome,
        row.client_ip,
        row.detail,
    ]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def row_hash(prev_hash: str, row: ChainRow) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical(row)}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    rows: int
    first_bad: int | None
    reason: str | None = None


def verify(rows: Iterable[ChainRow], start_hash: str = GENESIS) -> Verdict:
    """Walk rows in id order; the first whose link or own hash is wrong is reported.

    A changed row fails its own hash; a deleted row makes the next row's
    ``prev_hash`` point at nothing; an inserted row either fails its hash or
    makes its successor's link wrong.
    """
    prev = start_hash
    n = 0
    for row in rows:
        n += 1
        if row.prev_hash != prev:
            return Verdict(False, n, row.id, "link to the previous row broken")
        if row.hash != row_hash(prev, row):
            return Verdict(False, n, row.id, "row content does not match its hash")
        prev = row.hash
    return Verdict(True, n, None)
