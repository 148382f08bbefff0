"""What the API may ask of the ledger: scoped reads, attributed writes, imports,
exports, quality and map queries. The API layer stays thin; scope is applied here
through ``sharing.scope`` on every camera read, export and map query.

``LedgerService`` is the facade the rest of the code uses; each concern lives in
its own module, layered in this order (each may use the ones before it):

* ``writes``     — shared state, scoped reads, attributed writes with history;
* ``reference``  — regions, police stations, units, platforms, internal systems;
* ``records``    — camera records: list (capped totals), read, write, revalidate;
* ``cameras``    — records from the channels devices report (sync, ledger vs device);
* ``transfer``   — survey-form templates, exports, import jobs;
* ``analytics``  — quality, duplicates, the map, nearest, dictionaries.
"""

from __future__ import annotations

from sharpeyes.ledger.analytics import Analytics
from sharpeyes.ledger.writes import InvalidRecord, LedgerConflict, LedgerNotFound


class LedgerService(Analytics):
    """The ledger domain's one service object (see the module docstring)."""


__all__ = ["InvalidRecord", "LedgerConflict", "LedgerNotFound", "LedgerService"]
