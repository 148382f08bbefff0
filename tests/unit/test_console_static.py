"""Which console folder the node serves (issue 17 packaging)."""

from __future__ import annotations

from pathlib import Path

from sharpeyes.api.static import dist_dir


def _built(p: Path) -> Path:
    p.mkdir(parents=True)
    (p / "index.html").write_text("<!doctype html>")
    return p


def test_clone_build_wins_then_packaged_copy(tmp_path: Path) -> None:
    repo, packaged = tmp_path / "web" / "dist", tmp_path / "pkg" / "dist"
    # nothing built anywhere: the repo path (the node answers "not built")
    assert dist_dir(None, repo, packaged) == repo
    # an installed wheel: only the packaged copy exists
    _built(packaged)
    assert dist_dir(None, repo, packaged) == packaged
    # a clone with `make web`: its own fresh build
    _built(repo)
    assert dist_dir(None, repo, packaged) == repo
    # configured folder beats both
    assert dist_dir(str(tmp_path), repo, packaged) == tmp_path.resolve()
