"""Every bus event published in src/ is in the catalogue, with the catalogue's keys."""

from __future__ import annotations

import ast
from pathlib import Path

import sharpeyes
from sharpeyes.event_types import CATALOGUE, shape_of
from sharpeyes.events import Event

SRC = Path(sharpeyes.__file__).parent
# the NATS bridge re-publishes events it received (their type is data, already checked
# where they were first published); NATS client publishes (`_nc`) are not bus events
RELAYS = {"nodes/eventbridge.py"}


def _types(arg: ast.expr) -> list[str]:
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return [arg.value]
    if isinstance(arg, ast.IfExp):
        return _types(arg.body) + _types(arg.orelse)
    if isinstance(arg, ast.JoinedStr) and isinstance(arg.values[0], ast.Constant):
        return [str(arg.values[0].value) + "*"]  # a family: its constant prefix
    raise AssertionError(f"event type not readable: {ast.unparse(arg)}")


def _publish_sites() -> list[tuple[str, str, set[str], bool]]:
    sites = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "publish"
                and node.args
            ):
                continue
            receiver = node.func.value
            if isinstance(receiver, ast.Attribute) and receiver.attr == "_nc":
                continue
            if str(path.relative_to(SRC)) in RELAYS and isinstance(node.args[0], ast.Name):
                continue
            keys = {k.arg for k in node.keywords if k.arg is not None}
            splat = any(k.arg is None for k in node.keywords)
            where = f"{path.relative_to(SRC)}:{node.lineno}"
            sites += [(where, t, keys, splat) for t in _types(node.args[0])]
    return sites


def test_every_published_event_matches_its_catalogue_entry() -> None:
    sites = _publish_sites()
    assert len(sites) > 40  # the scan found the publish calls at all
    for where, etype, keys, splat in sites:
        shape = shape_of(etype.rstrip("*") + ("x" if etype.endswith("*") else ""))
        assert shape is not None, f"{where}: {etype} is not in event_types.CATALOGUE"
        known = shape.__required_keys__ | shape.__optional_keys__
        assert keys <= known, f"{where}: {etype} publishes {sorted(keys - known)} unlisted"
        if not splat:
            missing = shape.__required_keys__ - keys
            assert not missing, f"{where}: {etype} lacks required {sorted(missing)}"


def test_every_catalogue_entry_is_published_somewhere() -> None:
    published = {t.rstrip("*") for _w, t, _k, _s in _publish_sites()}
    assert set(CATALOGUE) <= published


def test_unknown_type_has_no_shape() -> None:
    assert shape_of("device.teleported") is None
    assert shape_of("om.alarm.raised") is CATALOGUE["om.alarm."]
    assert "catalog.changed" in (Event.__doc__ or "")
