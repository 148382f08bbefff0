"""The node's whole schema, whichever module owns each table.

Models live beside their owners (``store.models``, ``ledger.models``, ``jobs``);
importing this module registers them all on the one ``Base.metadata``, which is
what Alembic's autogenerate and the migration tests compare against.

Some objects are made by migrations on purpose outside the metadata, because
SQLAlchemy cannot describe them portably: the SQLite R*Tree virtual table of the
ledger (and the shadow tables SQLite creates for it) and PostgreSQL's GiST
expression index over camera coordinates. :func:`include_name` hides them from
autogenerate comparison.
"""

from __future__ import annotations

from typing import Any

import sharpeyes.audit.models
import sharpeyes.cascade.models
import sharpeyes.console.models  # console_views
import sharpeyes.health.models
import sharpeyes.jobs
import sharpeyes.ledger.models
import sharpeyes.recording.models
import sharpeyes.sharing.models  # noqa: F401  (share requests, grants, apps)
from sharpeyes.ledger.models import PG_GEO_INDEX, PG_SEARCH_INDEXES, RTREE_TABLE
from sharpeyes.messages import models as _messages_models  # noqa: F401  (mobile positions)
from sharpeyes.proxies import models as _proxy_models  # noqa: F401  (registers proxies)
from sharpeyes.store.models import Base

metadata = Base.metadata

UNMANAGED_TABLE_PREFIXES: tuple[str, ...] = (RTREE_TABLE,)
UNMANAGED_INDEXES: frozenset[str] = frozenset({PG_GEO_INDEX}) | PG_SEARCH_INDEXES


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic ``include_name`` hook: skip objects the migrations manage by hand."""
    if name is None:
        return True
    if type_ == "table":
        return not name.startswith(UNMANAGED_TABLE_PREFIXES)
    if type_ == "index":
        return name not in UNMANAGED_INDEXES
    return True
