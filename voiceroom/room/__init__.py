"""The pure room core: roles, seats, speaker queue, phases, consultations, routing.

Imports nothing of voiceroom's but its exceptions; no I/O, no clock, no logging.
"""

from __future__ import annotations

from voiceroom.room.commands import COMMANDS, Command
from voiceroom.room.core import Room, Snapshot
from voiceroom.room.errors import ErrorCode, RuleError
from voiceroom.room.events import Audience, Emit, Event
from voiceroom.room.model import ConsultKind, ConsultMode, Phase, Profile, Role, RoomConfig
from voiceroom.room.routing import MUSIC_SOURCE, Mix, Routing

__all__ = [
    "COMMANDS",
    "MUSIC_SOURCE",
    "Audience",
    "Command",
    "ConsultKind",
    "ConsultMode",
    "Emit",
    "ErrorCode",
    "Event",
    "Mix",
    "Phase",
    "Profile",
    "Role",
    "Room",
    "RoomConfig",
    "Routing",
    "RuleError",
    "Snapshot",
]
