"""``serve --media-workers``: port slices, and a clear error without NATS."""

from __future__ import annotations

import pytest

from sharpeyes.cli import main
from sharpeyes.nodes import workers
from sharpeyes.nodes.workers import NatsMissing, check_nats, split_ports
from tests.nats_fixture import free_port


def test_port_range_is_split_without_overlap() -> None:
    assert split_ports(30000, 30999, 2) == [(30000, 30499), (30500, 30999)]
    assert split_ports(30000, 30010, 3) == [(30000, 30002), (30003, 30005), (30006, 30008)]
    with pytest.raises(ValueError):
        split_ports(30000, 30002, 2)


def test_missing_nats_server_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"nats://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setattr(workers.shutil, "which", lambda _: None)
    with pytest.raises(NatsMissing, match="nats-server is not on PATH"):
        check_nats(url)
    monkeypatch.setattr(workers.shutil, "which", lambda _: "/usr/sbin/nats-server")
    with pytest.raises(NatsMissing, match="start it: nats-server"):
        check_nats(url)


def test_serve_with_media_workers_exits_2_without_nats(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHARPEYES_NATS__URL", f"nats://127.0.0.1:{free_port()}")
    monkeypatch.setattr(workers.shutil, "which", lambda _: None)
    assert main(["serve", "--media-workers", "2"]) == 2
    assert "nats-server is not on PATH" in capsys.readouterr().err
