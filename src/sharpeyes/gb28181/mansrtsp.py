"""MANSRTSP (Appendix B): the playback controls carried in SIP INFO bodies (sans-IO).

A request is an RTSP-style start line (``PLAY MANSRTSP/1.0``, ``PAUSE``,
``TEARDOWN``), a ``CSeq`` and, for PLAY, ``Range: npt=<s>-`` (seek, or
``npt=now-`` to resume) and/or ``Scale`` (speed); PAUSE carries
``PauseTime: now``. Bodies are small and hostile input only ever raises
:class:`MansrtspError`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

CONTENT_TYPE = "Application/MANSRTSP"
VERSION = "MANSRTSP/1.0"
MAX_BODY = 4096
SCALES = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)  # B.2.7 basic values, 8× seen on NVRs

_NPT = re.compile(r"npt\s*=\s*(now|[0-9]{1,9}(?:\.[0-9]{1,6})?)\s*-\s*([0-9.]*)\s*", re.I)


class MansrtspError(ValueError):
    """A MANSRTSP body we cannot understand."""


class Method(StrEnum):
    PLAY = "PLAY"
    PAUSE = "PAUSE"
    TEARDOWN = "TEARDOWN"


@dataclass(frozen=True, slots=True)
class Command:
    """One control: ``position_s`` None with PLAY means "from where it is" (resume)."""

    method: Method
    cseq: int
    position_s: float | None = None
    scale: float | None = None

    def to_bytes(self) -> bytes:
        lines = [f"{self.method.value} {VERSION}", f"CSeq: {self.cseq}"]
        if self.method is Method.PAUSE:
            lines.append("PauseTime: now")
        if self.scale is not None:
            lines.append(f"Scale: {self.scale:g}")
        if self.method is Method.PLAY and (self.position_s is not None or self.scale is None):
            where = "now" if self.position_s is None else f"{self.position_s:g}"
            lines.append(f"Range: npt={where}-")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def play(cseq: int, *, position_s: float | None = None, scale: float | None = None) -> Command:
    if position_s is not None and (not math.isfinite(position_s) or position_s < 0):
        raise MansrtspError("Range must be a non-negative number of seconds")
    if scale is not None and (not math.isfinite(scale) or scale == 0 or abs(scale) > 64):
        raise MansrtspError("Scale must be a non-zero number up to 64")
    return Command(Method.PLAY, cseq, position_s, scale)


def pause(cseq: int) -> Command:
    return Command(Method.PAUSE, cseq)


def parse(body: bytes) -> Command:
    """Parse a request body; raises MansrtspError on anything malformed."""
    if len(body) > MAX_BODY:
        raise MansrtspError("MANSRTSP body too large")
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError as exc:
        raise MansrtspError("MANSRTSP body is not ASCII") from exc
    lines = [ln.strip() for ln in text.replace("\r\n", "\n").split("\n")]
    lines = [ln for ln in lines if ln]
    if not lines:
        raise MansrtspError("empty MANSRTSP body")
    start = lines[0].split()
    if len(start) != 2 or not start[1].upper().startswith(("MANSRTSP/", "RTSP/")):
        raise MansrtspError(f"bad MANSRTSP start line {lines[0][:60]!r}")
    try:
        method = Method(start[0].upper())
    except ValueError as exc:
        raise MansrtspError(f"unknown MANSRTSP method {start[0][:20]!r}") from exc
    headers: dict[str, str] = {}
    for ln in lines[1:]:
        name, sep, value = ln.partition(":")
        if not sep:
            raise MansrtspError(f"bad MANSRTSP header {ln[:60]!r}")
        headers[name.strip().lower()] = value.strip()
    cseq_text = headers.get("cseq", "")
    if not cseq_text.isdigit() or len(cseq_text) > 9:
        raise MansrtspError("MANSRTSP request without a valid CSeq")
    position: float | None = None
    scale: float | None = None
    if "range" in headers:
        m = _NPT.fullmatch(headers["range"])
        if m is None:
            raise MansrtspError(f"unsupported Range {headers['range'][:40]!r}")
        position = None if m.group(1).lower() == "now" else float(m.group(1))
    if "scale" in headers:
        try:
            scale = float(headers["scale"])
        except ValueError as exc:
            raise MansrtspError(f"bad Scale {headers['scale'][:20]!r}") from exc
        if not math.isfinite(scale) or scale == 0 or abs(scale) > 64:
            raise MansrtspError("Scale out of range")
    return Command(method, int(cseq_text), position, scale)


def response(cseq: int, status: int = 200, reason: str = "OK") -> bytes:
    return f"{VERSION} {status} {reason}\r\nCSeq: {cseq}\r\n\r\n".encode("ascii")


__all__ = [
    "CONTENT_TYPE",
    "SCALES",
    "Command",
    "MansrtspError",
    "Method",
    "parse",
    "pause",
    "play",
    "response",
]
