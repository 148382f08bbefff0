"""Start-up text (issue 17 "Also"): the banner tells the bind address as it is, and
Alembic's per-start plugin INFO lines are not logged."""

from __future__ import annotations

import logging

from sharpeyes import cli


def test_banner_names_all_interfaces_for_wildcard_bind() -> None:
    assert cli._bind_text("0.0.0.0") == "0.0.0.0 (all interfaces)"
    assert cli._bind_text("::") == ":: (all interfaces)"
    assert cli._bind_text("127.0.0.1") == "127.0.0.1"


def test_alembic_info_is_quiet_after_setup() -> None:
    root = logging.getLogger()
    saved = (root.level, logging.getLogger("alembic").level)
    try:
        cli._setup_logging("info")
        assert not logging.getLogger("alembic.runtime.plugins").isEnabledFor(logging.INFO)
        assert logging.getLogger("alembic").isEnabledFor(logging.WARNING)
    finally:
        root.setLevel(saved[0])
        logging.getLogger("alembic").setLevel(saved[1])
