"""Small builders for room-core tests: a room with named members, and state fingerprints."""

from __future__ import annotations

from typing import Any

from voiceroom.room import Profile, Role, Room, RoomConfig
from voiceroom.room import commands as c
from voiceroom.room.events import Emit, Event


def make_room(config: RoomConfig | None = None, **members: tuple[Role, str]) -> Room:
    """``make_room(h=(Role.HOST, "vip"), a=(Role.LISTENER, "new"))``."""
    room = Room("r1", config)
    for user, (role, tier) in members.items():
        room.join(Profile(user, user.upper(), role, tier), now=0.0)
    return room


def show_room(**extra: tuple[Role, str]) -> Room:
    room = make_room(h=(Role.HOST, "vip"), **extra)
    room.handle("h", c.StartShow(), now=1.0)
    return room


def events_of(emits: list[Emit], kind: type[Event]) -> list[Any]:
    return [e.event for e in emits if isinstance(e.event, kind)]


def fingerprint(room: Room) -> tuple[object, ...]:
    """Everything that makes up a room's state, comparable with ==."""
    return (
        room.phase,
        room.show_starts_at,
        tuple(
            (m.user, m.role, m.tier, m.connected, m.disconnected_at) for m in room.members.values()
        ),
        tuple((s.holder, s.locked) for s in room.seats),
        tuple(sorted(room.queue.items())),
        tuple(sorted(room.requests.items())),
        tuple(sorted(room.invites.items())),
        tuple(sorted(room.consultations.items())),
        frozenset(room.self_muted),
        frozenset(room.moderator_muted),
        frozenset(room.banned),
        room.music,
        tuple(room.chat),
    )
