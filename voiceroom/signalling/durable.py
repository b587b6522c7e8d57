"""The room host's side of the durable store: journal entries from entry-point calls,
event records from emits, and recovery (latest snapshot + replay of later entries through
the same ``Venue`` entry points).

Commands are journaled in their wire form (``wire_form.to_wire`` / ``protocol.parse_body``),
so one schema serves both wire and disk, and replay validates them exactly as a client's
frame.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from voiceroom.protocol import is_ephemeral, parse_body
from voiceroom.room.commands import Command
from voiceroom.room.events import Emit
from voiceroom.room.model import Profile, Role, RoomConfig
from voiceroom.store.base import Entry, EntryKind, EventRecord, Store
from voiceroom.venue import Venue
from voiceroom.wire_form import plain, to_wire


def profile_body(profile: Profile) -> dict[str, Any]:
    return {
        "user": profile.user,
        "name": profile.name,
        "role": profile.role.value,
        "tier": profile.tier,
        "locale": profile.locale,
    }


def command_body(cmd: Command) -> dict[str, Any]:
    body: dict[str, Any] = to_wire(cmd)
    return body


def event_record(
    room: str, seq: int, n: int, emit: Emit, at: float, body: dict[str, Any] | None = None
) -> EventRecord:
    """``body``: the event's wire body when the caller has it already (the frame's)."""
    to = emit.to
    return EventRecord(
        room=room,
        seq=seq,
        n=n,
        type=emit.event.TYPE,
        body=plain(emit.event) if body is None else body,
        at=at,
        roles=None if to.roles is None else tuple(sorted(r.value for r in to.roles)),
        users=tuple(sorted(to.users)),
    )


def room_config(wire: dict[str, Any]) -> RoomConfig:
    """A RoomConfig from its stored wire form (lists back to tuples; unknown keys from a
    newer version are ignored)."""
    names = {f.name for f in dataclasses.fields(RoomConfig)}
    values: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in wire.items() if k in names
    }
    return RoomConfig(**values)


# --- replay: one entry back through the entry point it came from ------------------------
def _join(v: Venue, e: Entry) -> list[Emit]:
    assert e.body is not None
    b = e.body
    return v.join(Profile(b["user"], b["name"], Role(b["role"]), b["tier"], b["locale"]), e.now)


def _handle(v: Venue, e: Entry) -> list[Emit]:
    assert e.user is not None and e.type is not None
    return v.handle(e.user, parse_body(e.type, e.body or {}), e.now, entropy=e.entropy)


def _server(v: Venue, e: Entry) -> list[Emit]:
    assert e.type is not None
    return v.handle_as_server(parse_body(e.type, e.body or {}), e.now, entropy=e.entropy)


def _disconnect(v: Venue, e: Entry) -> list[Emit]:
    assert e.user is not None
    return v.disconnect(e.user, e.now)


def _leave(v: Venue, e: Entry) -> list[Emit]:
    assert e.user is not None
    return v.leave(e.user, e.now, str((e.body or {}).get("reason", "left")))


def _tier(v: Venue, e: Entry) -> list[Emit]:
    assert e.user is not None
    return v.set_tier(e.user, str((e.body or {})["tier"]), e.now)


def _tick(v: Venue, e: Entry) -> list[Emit]:
    return v.tick(e.now)


def _tracks(v: Venue, e: Entry) -> list[Emit]:
    names = (e.body or {}).get("names")
    v.room.set_tracks(None if names is None else tuple(names))
    return []


def _streak(v: Venue, e: Entry) -> list[Emit]:
    assert e.user is not None and e.body is not None
    return v.load_streak(e.user, str(e.body["day"]), int(e.body["count"]), e.now)


REPLAY: dict[EntryKind, Callable[[Venue, Entry], list[Emit]]] = {
    EntryKind.JOIN: _join,
    EntryKind.HANDLE: _handle,
    EntryKind.SERVER: _server,
    EntryKind.DISCONNECT: _disconnect,
    EntryKind.LEAVE: _leave,
    EntryKind.TICK: _tick,
    EntryKind.TIER: _tier,
    EntryKind.TRACKS: _tracks,
    EntryKind.STREAK: _streak,
}


def replay(venue: Venue, entry: Entry) -> list[Emit]:
    """Apply one journal entry. A refusal here means the journal and the code disagree
    (an entry is only written for an accepted call): it propagates."""
    return REPLAY[entry.kind](venue, entry)


@dataclass(slots=True)
class Recovered:
    """A room rebuilt from the store, ready for a RoomHost."""

    venue: Venue
    n: int  # last journal entry applied
    seq: int  # last event seq
    snapshot_n: int  # the snapshot it started from (0: none)
    # The events the replayed entries emitted, numbered as they were the first time (for
    # the resume buffer): (seq, emit).
    replayed: list[tuple[int, Emit]] = field(default_factory=list)


def recover(store: Store, room_id: str, default: RoomConfig, keep: int = 4096) -> Recovered | None:
    """Load a room: the newest snapshot that loads, then every later entry replayed.
    None when the store has never seen the room. Runs on the writer thread."""
    record = store.room(room_id)
    if record is None:
        return None
    snap = store.latest_snapshot(room_id)
    venue: Venue | None = None
    n = seq = 0
    if snap is not None:
        try:
            venue = Venue.from_state(snap.state)
            n, seq = snap.n, snap.seq
        except Exception:
            venue = None  # a snapshot from other code: replay the whole journal instead
    if venue is None:
        venue = Venue(room_id, room_config(dict(record.config)) if record.config else default)
        n = seq = 0
    out = Recovered(venue, n, seq, n)
    for entry in store.entries(room_id, after=n):
        if entry.n != out.n + 1:
            raise RuntimeError(f"room {room_id}: journal gap at {out.n + 1} (found {entry.n})")
        for emit in replay(venue, entry):
            if is_ephemeral(emit.event):
                continue  # sent live without seq (RoomHost._publish): not numbered here either
            out.seq += 1
            out.replayed.append((out.seq, emit))
        out.n = entry.n
        if len(out.replayed) > 2 * keep:
            del out.replayed[:-keep]
    del out.replayed[:-keep]
    # The room record says how far the journal went: a missing tail is damage too.
    if (out.n, out.seq) != (record.last_n, record.last_seq):
        raise RuntimeError(
            f"room {room_id}: journal ends at entry {out.n} (seq {out.seq}) but the room "
            f"record says {record.last_n} (seq {record.last_seq})"
        )
    return out
