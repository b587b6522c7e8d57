"""voiceroom: interactive voice rooms for live commerce.

Layers (imports point downwards only)::

    cli -> server -> signalling -> {protocol, media} -> room

The room core (:mod:`voiceroom.room`) is pure: no I/O, no clock, no logging.
"""

from __future__ import annotations

__version__ = "0.1.0"
