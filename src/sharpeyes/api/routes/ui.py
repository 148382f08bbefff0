"""What the web console needs to know about this node: its map's tile source.

Served to authenticated users only: a tile URL may carry a provider key, and the
console bundle itself holds no configuration at all.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from sharpeyes import __version__
from sharpeyes.api.deps import NodeDep, current_principal
from sharpeyes.sharing.principal import Principal

router = APIRouter(prefix="/api/ui", tags=["ui"])


@router.get("/config")
async def ui_config(
    principal: Annotated[Principal, Depends(current_principal)], node: NodeDep
) -> dict[str, Any]:
    """``tile_url`` null: no tile server; the console draws its bundled basemap."""
    ui = node.settings.ui
    return {
        "tile_url": ui.tile_url,
        "tile_attribution": ui.tile_attribution,
        "tile_subdomains": ui.tile_subdomains,
        "tile_max_zoom": ui.tile_max_zoom,
        "map_crs": ui.map_crs,
        "map_center": list(ui.map_center) if ui.map_center else None,
        "map_zoom": ui.map_zoom,
        "version": __version__,
    }
