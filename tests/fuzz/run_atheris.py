"""Coverage-guided fuzzing of one parser with atheris (long runs, not CI).

    python -m tests.fuzz.run_atheris sip -atheris_runs=1000000 -max_len=65536 -rss_limit_mb=1024

Targets: sip, sdp, manscdp, rtp, ps, ts, mansrtsp (see tests/fuzz/targets.py). The seeds are
written to a fresh corpus directory (``-corpus DIR``, default a temporary one) so
libFuzzer starts from well-formed inputs. A crash is an undeclared exception; the
input is saved as ``crash-*`` in the working directory. At the end the number of
inputs run is printed as ``fuzz <target>: N inputs``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["sharpeyes"]):
    from tests.fuzz.targets import MAX_INPUT, TARGETS, seeds

_count = 0


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: run_atheris.py {{{','.join(TARGETS)}}} [libFuzzer options]")
    name = sys.argv[1]
    target = TARGETS[name]
    args = sys.argv[2:]
    corpus = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
    for i, s in enumerate(seeds(name)):
        (corpus / f"seed{i}").write_bytes(s)

    def one(data: bytes) -> None:
        global _count
        _count += 1
        target(data[:MAX_INPUT])

    started = time.monotonic()
    import atexit

    atexit.register(
        lambda: print(
            f"fuzz {name}: {_count} inputs in {time.monotonic() - started:.0f} s", flush=True
        )
    )
    atheris.Setup([sys.argv[0], *args, str(corpus)], one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
