"""Two control nodes' event buses joined over NATS: each event arrives once, no echo."""

from __future__ import annotations

import asyncio

import nats

from sharpeyes.events import EventBus
from sharpeyes.nodes.eventbridge import PREFIX, NatsEventBridge
from tests.nats_fixture import nats_url  # noqa: F401


async def test_events_cross_nodes_once_without_echo(nats_url: str) -> None:  # noqa: F811
    a, b = EventBus(), EventBus()
    ba, bb = NatsEventBridge(a, nats_url, "a"), NatsEventBridge(b, nats_url, "b")
    await ba.start()
    await bb.start()
    try:
        with a.subscribe() as sa, b.subscribe() as sb:
            a.publish("device.online", device_id="34020000001320000001")
            ev = await asyncio.wait_for(sb.get(), 5)
            assert (ev.type, ev.data) == ("device.online", {"device_id": "34020000001320000001"})
            assert (await asyncio.wait_for(sa.get(), 1)).type == "device.online"  # its own
            # hostile bodies on the subject are dropped, not raised
            nc = await nats.connect(nats_url)
            await nc.publish(PREFIX + "x", b"not json")
            await nc.publish(PREFIX + "x", b'{"origin": "z"}')
            await nc.flush()
            await nc.close()
            b.publish("alarm", n=1)
            ev = await asyncio.wait_for(sa.get(), 5)
            assert (ev.type, ev.data) == ("alarm", {"n": 1})
            await asyncio.sleep(0.3)
            assert sa.queue.empty() and sb.queue.qsize() == 1  # b: its own alarm only
            assert (ba.sent, ba.received, bb.sent, bb.received) == (1, 1, 1, 1)
    finally:
        await ba.stop()
        await bb.stop()
