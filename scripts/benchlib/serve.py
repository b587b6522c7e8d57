"""``voiceroom serve`` with its ICE candidates pinned to 127.0.0.1 (benchmarks stay on
loopback; aioice otherwise gathers on every interface except loopback).

    python -m benchlib.serve --port P --media      # same arguments as `voiceroom serve`
"""

from __future__ import annotations

import sys

from benchlib.proc import loopback_only, raise_nofile

if __name__ == "__main__":
    loopback_only()
    raise_nofile()
    from voiceroom.cli import main

    sys.exit(main(["serve", *sys.argv[1:]]))
