"""Shared parameter types: every integer path/query parameter is bounded to 64 bits.

Our primary keys are 64-bit integers; without a bound, a 20-digit GB code given where
a pk belongs reached the database and failed there (SQLite OverflowError, a 500). With
these types the request is refused by validation (422) and the OpenAPI document says
the range, so clients and property-based tests know it.
"""

from __future__ import annotations

from typing import Annotated

import annotated_types as at
from fastapi import Query

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

Int64 = Annotated[int, at.Ge(INT64_MIN), at.Le(INT64_MAX)]

# Paging parameters of every list route (a huge offset is a 422, not an OverflowError).
Limit = Annotated[Int64, Query(ge=1, le=1000)]
Offset = Annotated[Int64, Query(ge=0)]
