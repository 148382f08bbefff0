"""``python -m sharpeyes.sim``: same as ``sharpeyes sim``."""

from sharpeyes.sim.cli import run

raise SystemExit(run())
