"""Build hook: the web console ships inside the Python package.

``pip wheel .`` / ``python -m build`` (sdist and wheel) first build the console
(``web/``, Vue + Vite: ``npm ci`` when ``node_modules`` is missing, ``npm run
build`` when ``web/dist`` is older than its sources) and copy ``web/dist`` into
``src/sharpeyes/console/dist``, which is package data. An sdist therefore carries
the built console, and installing from it or from the wheel needs no Node.js.

Without npm: an existing build (``web/dist`` or the packaged copy) is used; with
neither the package is built without a console and a warning says so, unless
``SHARPEYES_REQUIRE_CONSOLE=1`` (release builds), which makes it an error.

The batched UDP receive (``sharpeyes.live._fastrecv``, recvmmsg) is an optional C
extension: if it does not compile the install still succeeds and the pure-Python
receive is used; ``SHARPEYES_NO_CEXT=1`` skips building it.
Everything else about the package is in pyproject.toml.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import ClassVar

from setuptools import Command, Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
WEB = ROOT / "web"
WEB_DIST = WEB / "dist"
PACKAGED = ROOT / "src" / "sharpeyes" / "console" / "dist"
SOURCES = ("src", "index.html", "package.json", "package-lock.json", "vite.config.js")


def _newest(paths: list[Path]) -> float:
    newest = 0.0
    for p in paths:
        if p.is_dir():
            newest = max([newest, *(f.stat().st_mtime for f in p.rglob("*") if f.is_file())])
        elif p.exists():
            newest = max(newest, p.stat().st_mtime)
    return newest


class BuildConsole(Command):
    description = "build the web console (npm) and copy it into the package"
    user_options: ClassVar[list[tuple[str, str | None, str]]] = []

    def initialize_options(self) -> None:
        pass

    def finalize_options(self) -> None:
        pass

    def run(self) -> None:
        has_sources = (WEB / "package.json").is_file()
        index = WEB_DIST / "index.html"
        stale = not index.is_file() or index.stat().st_mtime < _newest([WEB / s for s in SOURCES])
        npm = shutil.which("npm")
        if has_sources and stale and npm:
            if not (WEB / "node_modules").is_dir():
                subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
            subprocess.run([npm, "run", "build"], cwd=WEB, check=True)
        if index.is_file():
            if PACKAGED.exists():
                shutil.rmtree(PACKAGED)
            shutil.copytree(WEB_DIST, PACKAGED)
        if not (PACKAGED / "index.html").is_file():
            msg = "the web console was not built (install Node.js >= 20.19 and npm)"
            if os.environ.get("SHARPEYES_REQUIRE_CONSOLE") == "1":
                raise SystemExit(f"error: {msg}")
            self.warn(f"{msg}; the package will serve a page saying so")


class BuildPy(build_py):
    def run(self) -> None:
        self.run_command("build_console")
        super().run()


class Sdist(sdist):
    def run(self) -> None:
        self.run_command("build_console")
        super().run()


class OptionalBuildExt(build_ext):
    """A C extension that fails to compile leaves the pure-Python fallback in use."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:
            self.warn(f"C extensions not built ({exc}); the pure-Python fallback is used")

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            self.warn(f"{ext.name} not built ({exc}); the pure-Python fallback is used")


EXTENSIONS = (
    []
    if os.environ.get("SHARPEYES_NO_CEXT") == "1"
    else [
        Extension(
            "sharpeyes.live._fastrecv",
            ["src/sharpeyes/live/_fastrecv.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)

setup(
    ext_modules=EXTENSIONS,
    cmdclass={
        "build_console": BuildConsole,
        "build_py": BuildPy,
        "sdist": Sdist,
        "build_ext": OptionalBuildExt,
    },
)
