"""The Python client for voiceroom: join a room, act in it, send and hear audio.

::

    from voiceroom.client import MediaPeer, RoomClient

    room = await RoomClient.join("ws://127.0.0.1:8765", token)
    audio = await MediaPeer.connect(room)
    await room.raise_hand()
    await room.wait_until(lambda s: s.seated, timeout=60)
    audio.publish_tone(440)

See docs/client.md. The ``voiceroom bot`` command is :mod:`voiceroom.client.bot`.

Names are imported on first use (PEP 562), so ``voiceroom.client.cli`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from voiceroom.client.audio import (
        AudioSource,
        FileSource,
        PublishTrack,
        Recorder,
        SilenceSource,
        ToneSource,
        tone_level,
    )
    from voiceroom.client.bot import Bot, BotConfig, BotReport
    from voiceroom.client.connection import RoomClient, ws_url
    from voiceroom.client.errors import ClientError, ConnectionLost, JoinRefused, ServerError
    from voiceroom.client.media import MediaPeer
    from voiceroom.client.shop import format_price
    from voiceroom.client.state import Event, RoomState

_WHERE = {
    "AudioSource": "audio",
    "FileSource": "audio",
    "PublishTrack": "audio",
    "Recorder": "audio",
    "SilenceSource": "audio",
    "ToneSource": "audio",
    "tone_level": "audio",
    "Bot": "bot",
    "BotConfig": "bot",
    "BotReport": "bot",
    "RoomClient": "connection",
    "ws_url": "connection",
    "ClientError": "errors",
    "ConnectionLost": "errors",
    "JoinRefused": "errors",
    "ServerError": "errors",
    "MediaPeer": "media",
    "format_price": "shop",
    "Event": "state",
    "RoomState": "state",
}

__all__ = [
    "AudioSource",
    "Bot",
    "BotConfig",
    "BotReport",
    "ClientError",
    "ConnectionLost",
    "Event",
    "FileSource",
    "JoinRefused",
    "MediaPeer",
    "PublishTrack",
    "Recorder",
    "RoomClient",
    "RoomState",
    "ServerError",
    "SilenceSource",
    "ToneSource",
    "format_price",
    "tone_level",
    "ws_url",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
