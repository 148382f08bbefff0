"""Prometheus metrics of one node (``prometheus-client``), scraped at ``/metrics``.

Most figures already exist as counters in the services (SIP stack, registrar, live
streams, jobs); a collector reads them at scrape time instead of duplicating them.
What needs the database (devices and channels online) is refreshed by the async
scrape handler just before rendering, so the collector itself never blocks the loop.
Only SIP requests by method and final status, and their handling time, are counted
here, by :meth:`NodeMetrics.observe_request` (called by the node's SIP entry point).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text

from sharpeyes.store.models import Channel, Device

if TYPE_CHECKING:
    from sharpeyes.services import Services as Node

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_KEEPALIVE = b"<CmdType>Keepalive</CmdType>"


class NodeMetrics:
    """A registry per node (tests run several nodes in one process)."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.registry = CollectorRegistry(auto_describe=True)
        self.sip_requests = Counter(
            "sharpeyes_sip_requests",
            "SIP requests received, by method and the status we answered (none: no answer)",
            ["method", "status"],
            registry=self.registry,
        )
        self.sip_seconds = Histogram(
            "sharpeyes_sip_request_seconds",
            "Time to handle a SIP request; cmd=Keepalive for keepalive MESSAGEs",
            ["method", "cmd"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
            registry=self.registry,
        )
        self._db: dict[str, float] = {}
        self.registry.register(_NodeCollector(self))

    def observe_request(self, method: str, body: bytes, status: int | None, started: float) -> None:
        known = method if method.isalpha() and len(method) <= 16 else "OTHER"
        self.sip_requests.labels(known, str(status) if status else "none").inc()
        cmd = "Keepalive" if known == "MESSAGE" and _KEEPALIVE in body[:512] else ""
        self.sip_seconds.labels(known, cmd).observe(time.perf_counter() - started)

    async def refresh_db(self) -> None:
        """Counts that live in the database, and how long a round trip takes."""
        node = self.node
        t0 = time.perf_counter()
        async with node.db.session() as s:
            await s.execute(text("SELECT 1"))
            dev = (
                await s.execute(select(Device.online, func.count()).group_by(Device.online))
            ).all()
            ch = (
                await s.execute(
                    select(Channel.online, func.count())
                    .where(Channel.kind == "channel")
                    .group_by(Channel.online)
                )
            ).all()
        self._db = {
            "db_seconds": time.perf_counter() - t0,
            **{f"devices_{'online' if k else 'offline'}": v for k, v in dev},
            **{f"channels_{'online' if k else 'offline'}": v for k, v in ch},
        }

    async def render(self) -> bytes:
        await self.refresh_db()
        return generate_latest(self.registry)


class _NodeCollector(Collector):
    def __init__(self, metrics: NodeMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> Iterator[Any]:
        return iter(())  # dynamic: collected at scrape time only

    def collect(self) -> Iterator[Any]:
        node = self.metrics.node
        db = self.metrics._db
        for kind in ("devices", "channels"):
            g = GaugeMetricFamily(
                f"sharpeyes_{kind}", f"{kind.capitalize()} known, by state", labels=["state"]
            )
            for state in ("online", "offline"):
                g.add_metric([state], db.get(f"{kind}_{state}", 0))
            yield g
        yield GaugeMetricFamily(
            "sharpeyes_db_roundtrip_seconds",
            "Time of the last scrape's database queries (a commit-latency proxy)",
            value=db.get("db_seconds", 0.0),
        )
        lat = node.db.commit_latency
        cumulative, acc = [], 0
        for bound, n in zip((*lat.buckets, float("inf")), lat.counts, strict=True):
            acc += n
            cumulative.append((str(bound) if bound != float("inf") else "+Inf", acc))
        yield HistogramMetricFamily(
            "sharpeyes_db_commit_seconds",
            "Duration of every database commit (session.commit) since start",
            buckets=cumulative,
            sum_value=lat.total,
        )
        registered = sum(1 for d in node.registry.devices.values() if d.online)
        yield GaugeMetricFamily(
            "sharpeyes_registrations", "Devices registered and online now", value=registered
        )
        reg = CounterMetricFamily(
            "sharpeyes_register_outcomes", "REGISTER outcomes since start", labels=["outcome"]
        )
        for k, v in node.registrar.stats.items():
            reg.add_metric([k], v)
        yield reg
        sip = CounterMetricFamily(
            "sharpeyes_sip_transport_events", "SIP transport counters", labels=["event"]
        )
        for k, v in {**node.stack.transport.stats, **node.stack.stats}.items():
            sip.add_metric([k], v)
        yield sip
        live = node.live
        sessions = list(live.sessions.values())
        yield GaugeMetricFamily("sharpeyes_streams", "Live upstream streams", value=len(sessions))
        now = live.clock.now
        viewers = GaugeMetricFamily("sharpeyes_viewers", "Viewers of live streams", labels=["kind"])
        ws = hls = 0
        lost = received = 0
        for s in sessions:
            w, h = s.viewer_count(now, node.settings.media.hls_idle_s)
            ws, hls = ws + w, hls + h
            lost += s.rx.lost
            received += s.rx.received
        viewers.add_metric(["ws"], ws)
        viewers.add_metric(["hls"], hls)
        yield viewers
        yield GaugeMetricFamily(
            "sharpeyes_rtp_lost_packets", "RTP packets lost in the current streams", value=lost
        )
        yield GaugeMetricFamily(
            "sharpeyes_rtp_received_packets",
            "RTP packets received in the current streams",
            value=received,
        )
        ls = CounterMetricFamily("sharpeyes_stream_events", "Stream lifecycle", labels=["event"])
        for k, v in live.stats.items():
            ls.add_metric([k], v)
        yield ls
        lag = node.loop_lag_ms()
        g = GaugeMetricFamily(
            "sharpeyes_loop_lag_seconds", "Event-loop lag over the last minute", labels=["quantile"]
        )
        g.add_metric(["0.5"], lag["p50_ms"] / 1000)
        g.add_metric(["0.99"], lag["p99_ms"] / 1000)
        g.add_metric(["1"], lag["max_ms"] / 1000)
        yield g
        yield GaugeMetricFamily(
            "sharpeyes_asyncio_tasks",
            "Tasks alive on the node's event loop (a soak should see it flat)",
            value=len(asyncio.all_tasks()),
        )
        jobs = GaugeMetricFamily("sharpeyes_jobs", "Background jobs by state", labels=["state"])
        states: dict[str, int] = {}
        for j in node.jobs._jobs.values():
            states[str(j.state)] = states.get(str(j.state), 0) + 1
        for k, v in sorted(states.items()):
            jobs.add_metric([k], v)
        yield jobs
        quirks = CounterMetricFamily(
            "sharpeyes_interop_quirks", "Third-party device habits tolerated", labels=["quirk"]
        )
        for k, v in node.interop.total.items():
            quirks.add_metric([k], v)
        yield quirks
