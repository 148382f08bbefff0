"""Ledger reference data routes: regions, police stations, organisations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Query,
    Response,
)

from sharpeyes.api.deps import LedgerReader, LedgerWriter, NodeDep
from sharpeyes.api.ledger_schemas import (
    OrganisationIn,
    OrganisationOut,
    OrganisationPatch,
    PoliceStationIn,
    PoliceStationOut,
    PoliceStationPatch,
    RegionBulkIn,
    RegionDetailOut,
    RegionIn,
    RegionOut,
    RegionPatch,
)
from sharpeyes.api.params import Int64, Limit, Offset
from sharpeyes.api.routes.ledger.common import (
    RegionQ,
    page_of,
)
from sharpeyes.api.schemas import PageOut

router = APIRouter(prefix="/api/ledger", tags=["ledger"])


# ------------------------------------------------------------------ regions
@router.get("/regions", response_model=PageOut[RegionOut])
async def list_regions(
    principal: LedgerReader,
    node: NodeDep,
    parent: RegionQ = None,
    level: str | None = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Any:
    """Children of ``parent`` (provinces when none), or a search by name."""
    return page_of(
        RegionOut,
        await node.ledger.list_regions(parent=parent, level=level, q=q, offset=offset, limit=limit),
    )


@router.get("/regions/{code}", response_model=RegionDetailOut)
async def get_region(code: str, principal: LedgerReader, node: NodeDep) -> Any:
    return await node.ledger.get_region(code)


@router.post("/regions", response_model=list[RegionOut], status_code=201)
async def create_regions(
    body: RegionIn | RegionBulkIn, principal: LedgerWriter, node: NodeDep
) -> Any:
    """Add a township/village/community (or many, parents first)."""
    items = body.items if isinstance(body, RegionBulkIn) else [body]
    rows = await node.ledger.create_regions(principal, [i.model_dump() for i in items])
    return [RegionOut.model_validate(r) for r in rows]


@router.patch("/regions/{code}", response_model=RegionOut)
async def update_region(
    code: str, body: RegionPatch, principal: LedgerWriter, node: NodeDep
) -> Any:
    return await node.ledger.update_region(principal, code, body.model_dump(exclude_unset=True))


@router.delete("/regions/{code}", status_code=204)
async def delete_region(code: str, principal: LedgerWriter, node: NodeDep) -> Response:
    await node.ledger.delete_region(principal, code)
    return Response(status_code=204)


# ----------------------------------------------------------- police stations
@router.get("/police-stations", response_model=PageOut[PoliceStationOut])
async def list_police_stations(
    principal: LedgerReader,
    node: NodeDep,
    region: RegionQ = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Any:
    return page_of(
        PoliceStationOut,
        await node.ledger.list_police_stations(
            principal, region=region, q=q, offset=offset, limit=limit
        ),
    )


@router.post("/police-stations", response_model=PoliceStationOut, status_code=201)
async def create_police_station(
    body: PoliceStationIn, principal: LedgerWriter, node: NodeDep
) -> Any:
    return await node.ledger.create_police_station(principal, body.model_dump())


@router.get("/police-stations/{pk}", response_model=PoliceStationOut)
async def get_police_station(pk: Int64, principal: LedgerReader, node: NodeDep) -> Any:
    return await node.ledger.get_police_station(principal, pk)


@router.patch("/police-stations/{pk}", response_model=PoliceStationOut)
async def update_police_station(
    pk: Int64, body: PoliceStationPatch, principal: LedgerWriter, node: NodeDep
) -> Any:
    return await node.ledger.update_police_station(
        principal, pk, body.model_dump(exclude_unset=True)
    )


@router.delete("/police-stations/{pk}", status_code=204)
async def delete_police_station(pk: Int64, principal: LedgerWriter, node: NodeDep) -> Response:
    await node.ledger.delete_police_station(principal, pk)
    return Response(status_code=204)


# ------------------------------------------------------------ organisations
@router.get("/organisations", response_model=PageOut[OrganisationOut])
async def list_organisations(
    principal: LedgerReader,
    node: NodeDep,
    parent_id: Int64 | None = None,
    roots: bool = False,
    type: str | None = None,
    region: RegionQ = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Any:
    return page_of(
        OrganisationOut,
        await node.ledger.list_organisations(
            parent_id=parent_id,
            roots=roots,
            type_=type,
            region=region,
            q=q,
            offset=offset,
            limit=limit,
        ),
    )


@router.get("/organisations/tree")
async def organisation_tree(principal: LedgerReader, node: NodeDep) -> list[dict[str, Any]]:
    return await node.ledger.organisation_tree()


@router.post("/organisations", response_model=OrganisationOut, status_code=201)
async def create_organisation(body: OrganisationIn, principal: LedgerWriter, node: NodeDep) -> Any:
    return await node.ledger.create_organisation(principal, body.model_dump())


@router.get("/organisations/{pk}", response_model=OrganisationOut)
async def get_organisation(pk: Int64, principal: LedgerReader, node: NodeDep) -> Any:
    return await node.ledger.get_organisation(pk)


@router.patch("/organisations/{pk}", response_model=OrganisationOut)
async def update_organisation(
    pk: Int64, body: OrganisationPatch, principal: LedgerWriter, node: NodeDep
) -> Any:
    return await node.ledger.update_organisation(principal, pk, body.model_dump(exclude_unset=True))


@router.delete("/organisations/{pk}", status_code=204)
async def delete_organisation(pk: Int64, principal: LedgerWriter, node: NodeDep) -> Response:
    await node.ledger.delete_organisation(principal, pk)
    return Response(status_code=204)
