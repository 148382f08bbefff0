"""Analytics over the ledger: quality (完整率/上图率), duplicates, map and nearest."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from sharpeyes.ledger import dictionaries as d
from sharpeyes.ledger import mapquery, quality
from sharpeyes.ledger.models import (
    Organisation,
    Region,
)
from sharpeyes.ledger.queries import (
    CameraFilters,
)
from sharpeyes.ledger.survey_form import (
    CAMERA_FORM,
)
from sharpeyes.ledger.transfer import Transfer
from sharpeyes.sharing.principal import Principal


class Analytics(Transfer):
    """Quality rates, duplicate candidates, the map, nearest, dictionaries."""

    # ====================================================== quality and map
    async def quality(
        self,
        principal: Principal,
        *,
        group_by: str = "region",
        level: str = "county",
        org_field: str = "owner",
        filters: CameraFilters | None = None,
    ) -> dict[str, Any]:
        names: dict[Any, str] = {}
        async with self.db.session() as s:
            if group_by == "region":
                names = dict((await s.execute(select(Region.code, Region.name))).all())
            else:
                names = dict((await s.execute(select(Organisation.id, Organisation.name))).all())
        return await quality.rates(
            self.db,
            principal,
            group_by=group_by,
            level=level,
            org_field=org_field,
            filters=filters,
            names=names,
            cache=self.rates_cache,
        )

    async def duplicates(
        self,
        principal: Principal,
        *,
        distance_m: float | None = None,
        same_direction: bool = True,
        filters: CameraFilters | None = None,
    ) -> dict[str, Any]:
        return await quality.duplicates(
            self.db,
            principal,
            distance_m=distance_m or self.settings.duplicate_distance_m,
            same_direction=same_direction,
            filters=filters,
        )

    async def map_points(
        self,
        principal: Principal,
        bbox: tuple[float, float, float, float],
        zoom: int,
        *,
        crs: str = "wgs84",
        filters: CameraFilters | None = None,
    ) -> dict[str, Any]:
        return await mapquery.viewport(
            self.db,
            principal,
            bbox,
            zoom,
            filters=filters,
            crs=crs,
            point_zoom=self.settings.map_point_zoom,
            max_points=self.settings.map_max_points,
            cells=self.map_cells,
        )

    async def nearest(
        self,
        principal: Principal,
        lon: float,
        lat: float,
        *,
        limit: int = 10,
        max_radius_m: float = 50_000,
        crs: str = "wgs84",
        filters: CameraFilters | None = None,
    ) -> list[dict[str, Any]]:
        return await mapquery.nearest(
            self.db,
            principal,
            lon,
            lat,
            limit=limit,
            max_radius_m=max_radius_m,
            crs=crs,
            filters=filters,
        )

    async def category_counts(
        self, principal: Principal, *, region: str | None = None, level: str = "county"
    ) -> dict[str, Any]:
        async with self.db.session() as s:
            names = dict((await s.execute(select(Region.code, Region.name))).all())
        return await mapquery.category_counts(
            self.db,
            principal,
            self.rules.categories,
            region=region,
            level=level,
            region_names=names,
        )

    def dictionaries(self) -> dict[str, Any]:
        vocabs = (
            d.STATUS,
            d.INTEGRATION_METHOD,
            d.NETWORK,
            d.POLE_CONDITION,
            d.POINT_CLASS,
            d.DIRECTION,
            d.CAMERA_TYPE,
            d.REGION_LEVEL,
            d.ORG_LEVEL,
            d.ORG_TYPE,
        )
        out: dict[str, Any] = {v.name: v.as_list() for v in vocabs}
        out["key_area_category"] = [
            {"code": c, "label": lbl} for c, lbl in self.rules.categories.items()
        ]
        out["naming_rule"] = {
            "pattern": self.settings.naming_pattern,
            "description": self.settings.naming_description,
            "region_prefix": self.settings.naming_region_prefix,
        }
        out["required_fields"] = self.settings.required_fields
        # the survey form's own column words, for showing field names to people
        out["field_labels"] = {c.field: c.flat_header for c in CAMERA_FORM.columns}
        out["field_labels"]["coordinates"] = "经纬度"
        return out
