"""Resource ledger (一机一档): regions, police stations, organisations, platform and
internal-system records, camera records, survey-form import/export, quality.

Permissions: ``ledger.read`` (viewer+) for reads, exports and templates (exports
are recorded in the ledger history), ``ledger.write`` (operator+) for changes,
``ledger.import`` (operator+) for imports. Camera reads are scoped by region.

One module per resource (``reference``, ``systems``, ``cameras``, ``quality``);
each is prefixed ``/api/ledger``; this package joins their routes in the original order.
"""

from __future__ import annotations

from fastapi import APIRouter

from sharpeyes.api.routes.ledger import cameras, quality, reference, systems

# The routes themselves, not nested routers: one level of inclusion, as before the
# split (route listings such as the route x role matrix walk one level).
router = APIRouter()
for part in (reference, systems, cameras, quality):
    router.routes.extend(part.router.routes)

__all__ = ["router"]
