"""``python -m voiceroom`` is the ``voiceroom`` command."""

from __future__ import annotations

from voiceroom.cli import main

raise SystemExit(main())
