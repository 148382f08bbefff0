"""The segment store: fMP4 files cut at keyframes, their index rows, repair, retention.

A :class:`ChannelRecorder` is one more consumer of a live hub (the same shared
fMP4 fragments viewers get). It only buffers: on a keyframe at least
``segment_s`` after the segment began it closes the segment and opens the next
one (init segment + that keyframe). The :class:`SegmentStore` flushes all
recorders once a second: file appends in one worker-thread call (never on the
event loop), then the index rows in one transaction.

Crash safety: a row is inserted (``complete`` false) before its file gets bytes,
and its ``end``/``bytes`` follow each flush. After a crash or power loss only the
segment being written can be off: :meth:`SegmentStore.repair` truncates its file
to the last whole box, drops rows whose file is gone, and marks the rest complete.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update

from sharpeyes.events import EventBus
from sharpeyes.recording.models import RecordSegment
from sharpeyes.store.db import Database

log = logging.getLogger(__name__)

FRAME_S = 0.04  # a segment's end when we know no better: one frame after the last
MAX_BUFFERED = 32 * 1024 * 1024  # per channel: beyond it (disk too slow) frames are dropped


@dataclass
class OpenSegment:
    channel_pk: int
    channel_id: str
    rel_path: str
    start: float
    end: float
    codec: str | None
    keep_until: float
    row_id: int | None = None
    written: int = 0  # bytes appended to the file so far
    frames: int = 0
    pending: list[bytes] = field(default_factory=list)
    pending_bytes: int = 0
    closed: bool = False
    gaps: list[list[float]] = field(default_factory=list)  # [start, end] of dropped media


class ChannelRecorder:
    """Hub consumer for one channel: cuts segments at keyframes (no IO, see module doc)."""

    def __init__(
        self,
        channel_pk: int,
        channel_id: str,
        *,
        segment_s: float,
        storage_days: int,
        tz: tzinfo,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.channel_pk = channel_pk
        self.channel_id = channel_id
        self.segment_s = segment_s
        self.storage_days = storage_days
        self.tz = tz
        self.clock = clock
        self.codec: str | None = None
        self.current: OpenSegment | None = None
        self.done: list[OpenSegment] = []  # closed, not yet finalised by the store
        self._init = b""
        self._force_cut = False
        self._dropping_since: float | None = None
        self.frames = 0
        self.dropped = 0
        self.max_buffered = MAX_BUFFERED

    def send_init(self, info: dict[str, object], init: bytes) -> None:
        if self._init and init != self._init:
            self._force_cut = True  # new parameters: the next segment gets the new init
        self._init = init
        codec = info.get("codec")
        self.codec = codec if isinstance(codec, str) else None

    def send_media(self, data: bytes, keyframe: bool) -> None:
        now = self.clock()
        if self._dropping_since is not None or self._buffered() + len(data) > self.max_buffered:
            # The disk does not keep up: drop until a keyframe once there is room again,
            # and say where the hole is (the index's ``gaps``), instead of eating memory.
            if self._dropping_since is None:
                self._dropping_since = now
            if not keyframe or self._buffered() + len(data) > self.max_buffered // 2:
                self.dropped += 1
                return
            hole = [self._dropping_since, now]
            self._dropping_since = None
            if self.current is not None:
                self.current.gaps.append(hole)
        cur = self.current
        # (half a frame of slack: a keyframe due exactly at segment_s may arrive a hair early)
        due = cur is None or now - cur.start >= self.segment_s - FRAME_S / 2
        if keyframe and (due or self._force_cut):
            if cur is not None:
                cur.end = now
                self._close(cur)
            self._force_cut = False
            cur = self.current = self._open(now)
            cur.pending.append(self._init)
            cur.pending_bytes += len(self._init)
        elif cur is None:
            return  # wait for a keyframe: a segment must start decodable
        cur.pending.append(data)
        cur.pending_bytes += len(data)
        cur.frames += 1
        cur.end = now + FRAME_S
        self.frames += 1

    def _buffered(self) -> int:
        cur = self.current
        return sum(s.pending_bytes for s in self.done) + (cur.pending_bytes if cur else 0)

    def stop(self) -> None:
        """The stream ended (or the plan did): close the open segment where it is."""
        if self.current is not None:
            self._close(self.current)
            self.current = None

    def _open(self, now: float) -> OpenSegment:
        local = datetime.fromtimestamp(now, self.tz)
        rel = f"{self.channel_id}/{local:%Y%m%d}/{local:%H%M%S}-{int(now * 1000) % 1000:03d}.mp4"
        return OpenSegment(
            channel_pk=self.channel_pk,
            channel_id=self.channel_id,
            rel_path=rel,
            start=now,
            end=now,
            codec=self.codec,
            keep_until=now + self.storage_days * 86400,
        )

    def _close(self, seg: OpenSegment) -> None:
        seg.closed = True
        seg.keep_until = seg.end + self.storage_days * 86400
        self.done.append(seg)
        if self.current is seg:
            self.current = None


def _append_all(root: Path, writes: list[tuple[str, bytes]]) -> None:
    """All of one flush's file appends (runs in a worker thread)."""
    for rel, data in writes:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as f:
            f.write(data)


def _unlink_all(root: Path, rels: list[str]) -> None:
    for rel in rels:
        try:
            (root / rel).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("cannot delete segment %s: %s", rel, exc)


def whole_boxes(path: Path) -> int:
    """Length of the prefix of ``path`` made of complete top-level ISO BMFF boxes,
    ending after an ``mdat`` (or the ``moov`` of an init segment alone)."""
    size = path.stat().st_size
    good = 0
    pos = 0
    with path.open("rb") as f:
        while pos + 8 <= size:
            f.seek(pos)
            head = f.read(16)
            n, kind = struct.unpack(">I4s", head[:8])
            if n == 1 and len(head) >= 16:
                n = struct.unpack(">Q", head[8:16])[0]
            if n < 8 or pos + n > size:
                break
            pos += n
            if kind in (b"mdat", b"moov"):
                good = pos
    return good


def _repair_file(path: Path) -> int:
    """Truncate to whole boxes; returns the new size (0: nothing usable)."""
    if not path.is_file():
        return 0
    good = whole_boxes(path)
    if good != path.stat().st_size:
        with path.open("r+b") as f:
            f.truncate(good)
    return good


class SegmentStore:
    """Files under ``root`` and their rows (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        root: Path,
        *,
        min_free_percent: float = 5.0,
        quota_bytes: int | None = None,
        clock: Callable[[], float] = time.time,
        disk_usage: Callable[[Path], tuple[int, int]] | None = None,
    ) -> None:
        self.db = db
        self.bus = bus
        self.root = root
        self.min_free_percent = min_free_percent
        self.quota_bytes = quota_bytes
        self.clock = clock
        self._disk_usage = disk_usage or _disk_usage
        self.recorders: dict[int, ChannelRecorder] = {}
        self._leftover: list[OpenSegment] = []
        self._lock = asyncio.Lock()
        self.stats = {"segments": 0, "bytes_written": 0, "deleted": 0, "guard_deleted": 0}

    # -- writing ------------------------------------------------------------------------

    async def flush(self) -> None:
        """Write what every recorder buffered; keep the index in step with the files."""
        async with self._lock:
            segs, self._leftover = self._leftover, []
            for rec in list(self.recorders.values()):
                segs.extend(rec.done)
                rec.done = []
                if rec.current is not None:
                    segs.append(rec.current)
            if not segs:
                return
            fresh = [s for s in segs if s.row_id is None and (s.pending or s.closed)]
            if fresh:
                async with self.db.session() as session:
                    rows = []
                    for seg in fresh:
                        row = RecordSegment(
                            channel_pk=seg.channel_pk,
                            channel_id=seg.channel_id,
                            start=seg.start,
                            end=seg.end,
                            bytes=0,
                            path=seg.rel_path,
                            codec=seg.codec,
                            fmt="fmp4",
                            frames=0,
                            gaps=None,
                            keep_until=seg.keep_until,
                            complete=False,
                        )
                        session.add(row)
                        rows.append((seg, row))
                    await session.commit()
                    for seg, row in rows:
                        seg.row_id = row.id
                        self.stats["segments"] += 1
            writes = []
            for seg in segs:
                if seg.pending:
                    data = b"".join(seg.pending)
                    seg.pending = []
                    seg.pending_bytes = 0
                    seg.written += len(data)
                    writes.append((seg.rel_path, data))
            if writes:
                await asyncio.to_thread(_append_all, self.root, writes)
                self.stats["bytes_written"] += sum(len(d) for _, d in writes)
            async with self.db.session() as session:
                for seg in segs:
                    if seg.row_id is None:
                        continue  # nothing was buffered yet
                    await session.execute(
                        update(RecordSegment)
                        .where(RecordSegment.id == seg.row_id)
                        .values(
                            end=seg.end,
                            bytes=seg.written,
                            frames=seg.frames,
                            complete=seg.closed,
                            keep_until=seg.keep_until,
                            codec=seg.codec,
                            gaps=seg.gaps or None,
                        )
                    )
                await session.commit()

    def add(self, rec: ChannelRecorder) -> None:
        self.recorders[rec.channel_pk] = rec

    def remove(self, channel_pk: int) -> None:
        """The channel stops recording: its last segments are written at the next flush."""
        rec = self.recorders.pop(channel_pk, None)
        if rec is not None:
            rec.stop()
            self._leftover.extend(rec.done)
            rec.done = []

    # -- repair at start ---------------------------------------------------------------------

    async def repair(self) -> dict[str, int]:
        """Make the rows of unfinished segments agree with their files (after a crash)."""
        async with self.db.session() as session:
            rows = list(
                (await session.execute(select(RecordSegment).where(~RecordSegment.complete)))
                .scalars()
                .all()
            )
        fixed = dropped = 0
        for row in rows:
            size = await asyncio.to_thread(_repair_file, self.root / row.path)
            async with self.db.session() as session:
                if size <= 0 or row.end <= row.start:
                    await session.execute(delete(RecordSegment).where(RecordSegment.id == row.id))
                    await asyncio.to_thread(_unlink_all, self.root, [row.path])
                    dropped += 1
                else:
                    await session.execute(
                        update(RecordSegment)
                        .where(RecordSegment.id == row.id)
                        .values(bytes=size, complete=True)
                    )
                    fixed += 1
                await session.commit()
        if rows:
            log.warning("recording repair: %d segments fixed, %d dropped", fixed, dropped)
        return {"fixed": fixed, "dropped": dropped}

    # -- retention and the disk guard ----------------------------------------------------

    async def retention(self) -> int:
        """Delete finished segments past their storage days; returns how many."""
        now = self.clock()
        deleted = 0
        while True:
            async with self.db.session() as session:
                rows = (
                    await session.execute(
                        select(RecordSegment.id, RecordSegment.path)
                        .where(RecordSegment.complete, RecordSegment.keep_until < now)
                        .limit(500)
                    )
                ).all()
                if not rows:
                    break
                await session.execute(
                    delete(RecordSegment).where(RecordSegment.id.in_([r[0] for r in rows]))
                )
                await session.commit()
            await asyncio.to_thread(_unlink_all, self.root, [r[1] for r in rows])
            deleted += len(rows)
        self.stats["deleted"] += deleted
        return deleted

    async def used_bytes(self) -> int:
        async with self.db.session() as session:
            total = (await session.execute(select(func.sum(RecordSegment.bytes)))).scalar()
        return int(total or 0)

    async def disk_guard(self) -> int:
        """Free space: expired segments first (retention), then the oldest overall, alarmed."""
        freed = await self.retention()
        deleted = 0
        while True:
            need = await self._bytes_to_free()
            if need <= 0:
                break
            async with self.db.session() as session:
                rows = (
                    await session.execute(
                        select(RecordSegment.id, RecordSegment.path, RecordSegment.bytes)
                        .where(RecordSegment.complete)
                        .order_by(RecordSegment.start)
                        .limit(50)
                    )
                ).all()
                if not rows:
                    break
                picked, total = [], 0
                for r in rows:
                    picked.append(r)
                    total += r[2]
                    if total >= need:
                        break
                await session.execute(
                    delete(RecordSegment).where(RecordSegment.id.in_([r[0] for r in picked]))
                )
                await session.commit()
            await asyncio.to_thread(_unlink_all, self.root, [r[1] for r in picked])
            deleted += len(picked)
        if deleted:
            self.stats["guard_deleted"] += deleted
            log.warning("recording disk guard deleted %d unexpired segments", deleted)
            self.bus.publish(
                "recording.disk_guard",
                deleted=deleted,
                used_bytes=await self.used_bytes(),
                quota_bytes=self.quota_bytes,
                min_free_percent=self.min_free_percent,
                severity="major",
            )
        return freed + deleted

    async def _bytes_to_free(self) -> int:
        need = 0
        if self.quota_bytes is not None:
            need = max(need, await self.used_bytes() - self.quota_bytes)
        total, free = self._disk_usage(self.root)
        if total > 0:
            want = total * self.min_free_percent / 100
            need = max(need, int(want - free))
        return need

    # -- reading -----------------------------------------------------------------------------

    async def segments(self, channel_pk: int, start: float, end: float) -> list[RecordSegment]:
        """Segments overlapping [start, end), by start (the open one included)."""
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(RecordSegment)
                    .where(
                        RecordSegment.channel_pk == channel_pk,
                        RecordSegment.start < end,
                        RecordSegment.end > start,
                    )
                    .order_by(RecordSegment.start)
                )
            ).scalars()
            return list(rows)


async def span_rows(db: Database, channel_pk: int, start: float, end: float) -> list[Any]:
    """(start, end) of the segments overlapping [start, end): the timeline's query, no ORM."""
    async with db.session() as session:
        result = await session.execute(
            select(RecordSegment.start, RecordSegment.end)
            .where(
                RecordSegment.channel_pk == channel_pk,
                RecordSegment.start < end,
                RecordSegment.end > start,
            )
            .order_by(RecordSegment.start)
        )
        return list(result.all())


def _disk_usage(path: Path) -> tuple[int, int]:
    try:
        u = shutil.disk_usage(path if path.exists() else path.parent)
    except OSError:
        return 0, 0
    return u.total, u.free


def spans_of(rows: list[Any], now: float | None = None) -> list[tuple[float, float]]:
    """Recorded spans: touching segments join."""
    out: list[list[float]] = []
    for r in rows:
        if out and r.start <= out[-1][1] + 0.5:
            out[-1][1] = max(out[-1][1], r.end)
        else:
            out.append([r.start, r.end])
    return [(s, e) for s, e in out]


def describe(row: RecordSegment) -> dict[str, Any]:
    return {
        "id": row.id,
        "start": row.start,
        "end": row.end,
        "bytes": row.bytes,
        "codec": row.codec,
        "complete": row.complete,
    }


__all__ = [
    "ChannelRecorder",
    "OpenSegment",
    "SegmentStore",
    "describe",
    "span_rows",
    "spans_of",
    "whole_boxes",
]
