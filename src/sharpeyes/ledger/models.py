"""Tables of the resource ledger (一机一档).

The ledger is what people maintain about every camera: where it is, who owns and
maintains it, what class and area it serves, its pole, its integration plan.
What a device reports about itself stays in ``channels`` (owned by ``devices/``);
a camera record is linked to its channel by the 20-digit code and never writes it.

Two derived columns, ``complete`` and ``on_map``, are computed by
``ledger.validation`` whenever a record is written, so the quality figures
(完整率, 上图率) are plain aggregates over millions of rows; ``issues`` keeps the
reasons. When the rules change, ``LedgerService.revalidate`` recomputes them.

On SQLite an R*Tree (``camera_records_rtree``) mirrors the coordinates of records
that are on the map, kept by triggers; it and PostgreSQL's GiST expression index
are created by migration 0002 and are not part of this metadata (see
``store.schema.include_name``). A later migration that rebuilds ``camera_records``
in batch mode on SQLite must recreate those triggers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from sharpeyes.store.models import Base, BigIntPK, JSONType, UTCDateTime, utcnow

RTREE_TABLE = "camera_records_rtree"
PG_GEO_INDEX = "ix_camera_records_geo_gist"
# PostgreSQL-only search indexes made by hand in migration 0011 (pg_trgm GIN,
# varchar_pattern_ops): not expressible portably as models, skipped by autogenerate.
PG_SEARCH_INDEXES: frozenset[str] = frozenset(
    {
        "ix_camera_records_name_trgm",
        "ix_camera_records_code_trgm",
        "ix_camera_records_location_name_trgm",
        "ix_camera_records_region_code_pattern",
        "ix_camera_records_code_pattern",
        "ix_camera_records_status_class_region",
    }
)


class Region(Base):
    """An administrative area. Province/city/county come from GB/T 2260 (``source``
    = ``gb2260``); townships, villages and communities are added by operators or by
    import. ``code`` is the significant prefix (``34``, ``3415``, ``341522``, then
    whatever local scheme operators use below the county), so "in this region" is a
    string prefix test, exactly as scope and channel civil codes work."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    level: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str | None] = mapped_column(String(16))  # 县 / 市辖区 / 街道 / 镇 / 村 …
    parent_code: Mapped[str | None] = mapped_column(
        String(12), ForeignKey("regions.code", ondelete="RESTRICT"), index=True
    )
    source: Mapped[str] = mapped_column(String(16), default="operator")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class PoliceStation(Base):
    """A police station (派出所), a list of its own linked to the region it serves."""

    __tablename__ = "police_stations"
    __table_args__ = (UniqueConstraint("region_code", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    region_code: Mapped[str] = mapped_column(
        String(12), ForeignKey("regions.code", ondelete="RESTRICT"), index=True
    )
    code: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(256))
    phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Organisation(Base):
    """A unit in the organisation tree: a department (公安, 数据资源管理局, 教育…) or a
    level of government, owning or maintaining cameras."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    type: Mapped[str] = mapped_column(String(32))
    level: Mapped[str | None] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    region_code: Mapped[str | None] = mapped_column(
        String(12), ForeignKey("regions.code", ondelete="RESTRICT"), index=True
    )
    code: Mapped[str | None] = mapped_column(String(32))  # e.g. unified social credit code
    contact: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class PlatformRecord(Base):
    """A video platform, as in the seed's platform survey form (调研表（平台）)."""

    __tablename__ = "platform_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), index=True)  # 项目名称
    vendor: Mapped[str | None] = mapped_column(String(64))  # 平台厂家（品牌）
    gb28181: Mapped[bool | None] = mapped_column(Boolean)  # 是否符合GB/T28181
    gat1400: Mapped[str | None] = mapped_column(String(256))  # 是否符合GA/T 1400
    address: Mapped[str | None] = mapped_column(String(256))  # 单位地址
    network_mode: Mapped[str | None] = mapped_column(String(256))  # 联网方式
    security: Mapped[str | None] = mapped_column(String(256))  # 视频监控网络安全防护
    storage_days: Mapped[int | None] = mapped_column(Integer)  # 视频存储时长
    description: Mapped[str | None] = mapped_column(String(512))  # 平台描述
    model_version: Mapped[str | None] = mapped_column(String(256))  # 品牌型号/系统版本
    sharing_capability: Mapped[str | None] = mapped_column(String(512))  # 平台共享和转发能力
    connected: Mapped[str | None] = mapped_column(String(128))  # 是否对接本级雪亮平台
    code: Mapped[str | None] = mapped_column(String(20), index=True)  # 20位编码
    cascade: Mapped[str | None] = mapped_column(String(128))  # 省市县级联情况
    build_date: Mapped[str | None] = mapped_column(String(10))  # 建设时间
    build_cost: Mapped[float | None] = mapped_column(Float)  # 建设费用（万元）
    om_cost: Mapped[float | None] = mapped_column(Float)  # 运维费用（万元/年）
    org_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    region_code: Mapped[str | None] = mapped_column(
        String(12), ForeignKey("regions.code", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64))


class InternalSystemRecord(Base):
    """A unit's internal video system, as in the seed's 内部视频监控系统调研表."""

    __tablename__ = "internal_systems"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), index=True)  # 项目名称
    address: Mapped[str | None] = mapped_column(String(256))  # 建设地址
    police_station_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("police_stations.id", ondelete="SET NULL"), index=True
    )
    build_date: Mapped[str | None] = mapped_column(String(10))
    camera_count: Mapped[int | None] = mapped_column(Integer)  # 监控点位总数
    front_end_models: Mapped[str | None] = mapped_column(String(512))  # 前端设备品牌型号
    system_model: Mapped[str | None] = mapped_column(String(256))  # 系统品牌型号
    gb28181: Mapped[bool | None] = mapped_column(Boolean)
    codec: Mapped[str | None] = mapped_column(String(32))  # 编码型号
    key_entrance_count: Mapped[int | None] = mapped_column(Integer)  # 重要出入口监控点位数量
    network_mode: Mapped[str | None] = mapped_column(String(128))
    data_description: Mapped[str | None] = mapped_column(String(512))  # 数据资源说明
    data_system_model: Mapped[str | None] = mapped_column(String(256))
    data_front_end: Mapped[str | None] = mapped_column(String(256))  # 前端类型及型号
    data_volume: Mapped[str | None] = mapped_column(String(128))  # 数据量（日均X条）
    data_network_mode: Mapped[str | None] = mapped_column(String(128))
    remark: Mapped[str | None] = mapped_column(String(512))
    org_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    region_code: Mapped[str | None] = mapped_column(
        String(12), ForeignKey("regions.code", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64))


class CameraRecord(Base):
    """The ledger record (一机一档) of one camera point, networked or social.

    Every column here is maintained by people (or their imports); the device's own
    view of the same camera is the ``channels`` row with ``channel_id == code``.
    Coordinates are WGS-84.
    """

    __tablename__ = "camera_records"
    # (on_map, longitude, latitude) covers the map's aggregate over large viewports
    # (SQLite index entries carry the rowid, i.e. the record id).
    __table_args__ = (Index(None, "on_map", "longitude", "latitude"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str | None] = mapped_column(String(20), unique=True)  # 20位编码
    name: Mapped[str | None] = mapped_column(String(128), index=True)  # 视频图像命名
    osd_text: Mapped[str | None] = mapped_column(String(128))  # 视频图像文字标注
    location_name: Mapped[str | None] = mapped_column(String(256))  # 位置名称
    platform_name: Mapped[str | None] = mapped_column(String(128))  # 管理平台名称
    platform_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("platform_records.id", ondelete="SET NULL"), index=True
    )
    brand: Mapped[str | None] = mapped_column(String(64))
    region_code: Mapped[str | None] = mapped_column(
        String(12), ForeignKey("regions.code", ondelete="RESTRICT"), index=True
    )
    police_station_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("police_stations.id", ondelete="SET NULL"), index=True
    )
    longitude: Mapped[float | None] = mapped_column(Float)
    latitude: Mapped[float | None] = mapped_column(Float)
    build_date: Mapped[str | None] = mapped_column(String(10))  # YYYY-MM or YYYY-MM-DD
    leased: Mapped[bool | None] = mapped_column(Boolean)  # 是否以租代建
    status: Mapped[str | None] = mapped_column(String(16), index=True)
    integration_method: Mapped[str | None] = mapped_column(String(24))
    pole_build_date: Mapped[str | None] = mapped_column(String(10))
    pole_number: Mapped[str | None] = mapped_column(String(64))
    pole_height_m: Mapped[float | None] = mapped_column(Float)
    pole_arms: Mapped[int | None] = mapped_column(Integer)
    pole_condition: Mapped[str | None] = mapped_column(String(16))
    point_class: Mapped[int | None] = mapped_column(Integer, index=True)  # 1/2/3
    key_area_category: Mapped[str | None] = mapped_column(String(32), index=True)
    place: Mapped[str | None] = mapped_column(String(128))  # 场所/场景
    network: Mapped[str | None] = mapped_column(String(16), index=True)
    owner_org_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    maintainer_org_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    shareable: Mapped[bool | None] = mapped_column(Boolean)
    storage_days: Mapped[int | None] = mapped_column(Integer)
    camera_type: Mapped[int | None] = mapped_column(Integer)  # PTZType 1..4
    direction: Mapped[int | None] = mapped_column(Integer)  # DirectionType 1..8
    position_type: Mapped[int | None] = mapped_column(Integer)
    room_type: Mapped[int | None] = mapped_column(Integer)
    use_type: Mapped[int | None] = mapped_column(Integer)
    resolution: Mapped[str | None] = mapped_column(String(32))
    codec: Mapped[str | None] = mapped_column(String(16))
    social: Mapped[bool] = mapped_column(Boolean, default=False)  # not a GB device
    remark: Mapped[str | None] = mapped_column(String(512))
    # Derived on every write by ledger.validation (see module docstring).
    complete: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    on_map: Mapped[bool] = mapped_column(Boolean, default=False)
    issues: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, index=True
    )
    created_by: Mapped[str | None] = mapped_column(String(64))
    updated_by: Mapped[str | None] = mapped_column(String(64))


class LedgerChange(Base):
    """Who changed what in the ledger, and every export — append-only.

    Until the audit module exists (M5.5) this is also the audit trail of ledger
    exports; that module should take these rows over.
    """

    __tablename__ = "ledger_changes"
    __table_args__ = (Index(None, "entity", "entity_id", "at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))  # create/update/delete/import/export
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    job_id: Mapped[str | None] = mapped_column(String(32))


class MapCell(Base):
    """Pre-aggregated map grid cells (zoom ≤ ``mapcells.MAX_ZOOM``) of on-map records.

    Derived data, rebuilt from ``camera_records`` by ``ledger.mapcells`` whenever
    ``camera_map_state`` says the records changed since the last build; ``scope_key``
    (the first six digits of the record's region, or of its code) lets region-scoped
    users read them too.
    """

    __tablename__ = "camera_map_cells"
    __table_args__ = (PrimaryKeyConstraint("zoom", "cx", "cy", "scope_key"),)

    zoom: Mapped[int] = mapped_column(SmallInteger)
    cx: Mapped[int] = mapped_column(Integer)
    cy: Mapped[int] = mapped_column(Integer)
    scope_key: Mapped[str] = mapped_column(String(6))
    n: Mapped[int] = mapped_column(Integer)
    sum_lon: Mapped[float] = mapped_column(Float)
    sum_lat: Mapped[float] = mapped_column(Float)
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    min_id: Mapped[int] = mapped_column(Integer)


class MapState(Base):
    """One row: ``data_version`` is bumped by database triggers on every change of a
    record's position, map flag, region or code (whoever writes it); the cells are
    current when ``cells_version`` equals it."""

    __tablename__ = "camera_map_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    data_version: Mapped[int] = mapped_column(BigInteger)
    cells_version: Mapped[int] = mapped_column(BigInteger)
