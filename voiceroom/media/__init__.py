"""The media plane: aiortc for ICE/DTLS/SRTP, our own ingest, mixer, encoder and fan-out.

See docs/media.md. Public API: :class:`MediaRoom`, :class:`MediaConfig`.
"""

from __future__ import annotations

from voiceroom.media.config import MediaConfig, MediaConfigError
from voiceroom.media.room import MediaError, MediaRoom

__all__ = ["MediaConfig", "MediaConfigError", "MediaError", "MediaRoom"]
