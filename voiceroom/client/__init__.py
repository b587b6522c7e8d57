"""The Python client for voiceroom: join a room, act in it, send and hear audio.

::

    from voiceroom.client import RoomClient, MediaPeer

    room = await RoomClient.join("ws://127.0.0.1:8765", token)
    audio = await MediaPeer.connect(room)
    await room.raise_hand()
    await room.wait_until(lambda s: s.seated, timeout=60)
    audio.publish_tone(440)

See docs/client.md. The ``voiceroom bot`` command is :mod:`voiceroom.client.bot`.
"""

from __future__ import annotations

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
from voiceroom.client.state import Event, RoomState

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
    "tone_level",
    "ws_url",
]
