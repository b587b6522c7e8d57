"""Replaying the journal gives the live state (hypothesis): random members join, send
random commands (accepted or refused), drop and come back, time passes; every accepted
call is journaled the way the room host does it, snapshots are taken at random points,
and ``recover`` (latest snapshot + the entries after it) must rebuild exactly the venue
that ran live, counters included."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.room.test_invariants import (
    CONSULT_COMMANDS,
    QUEUE_COMMANDS,
    ROOM_COMMANDS,
    SEAT_COMMANDS,
)
from voiceroom.room import commands as c
from voiceroom.room.errors import RuleError
from voiceroom.room.events import Emit
from voiceroom.room.model import Profile, Role, RoomConfig
from voiceroom.signalling.durable import (
    command_body,
    event_record,
    profile_body,
    recover,
    room_config,
)
from voiceroom.store import Entry, EntryKind, RoomRecord, SnapshotRecord, Store, Write, open_store
from voiceroom.store.base import room_config_wire
from voiceroom.venue import Venue

USERS = ["h", "co", "ag", "u1", "u2", "u3"]
ROLES = {"h": Role.HOST, "co": Role.COHOST, "ag": Role.AGENT}
CONFIG = RoomConfig(seat_count=4, reconnect_grace=5.0, invite_ttl=3.0, chat_history=5)

commands = st.one_of(
    SEAT_COMMANDS, QUEUE_COMMANDS, CONSULT_COMMANDS, ROOM_COMMANDS, st.just(c.EndRoom())
)
steps = st.lists(
    st.tuples(
        st.sampled_from(
            ["join", "cmd", "cmd", "cmd", "cmd", "disconnect", "leave", "tick", "snapshot"]
        ),
        st.sampled_from(USERS),
        commands,
        st.floats(0.0, 4.0),
    ),
    max_size=60,
)


class Recorder:
    """The room host's journaling, without sockets: accepted calls only."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.venue = Venue("p", CONFIG)
        self.n = 0
        self.seq = 0
        self.snap_n = 0
        self.now = 1000.0
        store.write([Write("p", room_record=RoomRecord("p", room_config_wire(CONFIG)))])

    def record(self, kind: EntryKind, emits: list[Emit], **entry: Any) -> None:
        self.n += 1
        records = []
        for emit in emits:
            self.seq += 1
            records.append(event_record("p", self.seq, self.n, emit, self.now))
        self.store.write([Write("p", Entry("p", self.n, kind, self.now, **entry), records)])

    def step(self, kind: str, user: str, cmd: c.Command, dt: float) -> None:
        self.now += dt
        v = self.venue
        try:
            if kind == "join":
                profile = Profile(user, user.upper(), ROLES.get(user, Role.LISTENER), "vip")
                emits = v.join(profile, self.now)
                self.record(EntryKind.JOIN, emits, user=user, body=profile_body(profile))
            elif kind == "cmd":
                emits = v.handle(user, cmd, self.now)
                self.record(
                    EntryKind.HANDLE, emits, user=user, type=cmd.TYPE, body=command_body(cmd)
                )
            elif kind == "disconnect":
                emits = v.disconnect(user, self.now)
                if emits:
                    self.record(EntryKind.DISCONNECT, emits, user=user)
            elif kind == "leave":
                emits = v.leave(user, self.now, "left")
                if emits:
                    self.record(EntryKind.LEAVE, emits, user=user, body={"reason": "left"})
            elif kind == "tick":
                emits = v.tick(self.now)
                if emits:
                    self.record(EntryKind.TICK, emits)
            elif self.n > self.snap_n:
                self.snap_n = self.n
                snap = SnapshotRecord("p", self.n, self.seq, v.to_state(), self.now)
                self.store.write([Write("p", snapshot=snap)])
        except RuleError:
            pass  # refused: nothing changed, nothing journaled


def state(venue: Venue) -> dict[str, Any]:
    """Everything in the venue, compared by value (``version`` only tells the media plane
    that something changed, and calls that change nothing are not journaled)."""
    room = {k: v for k, v in vars(venue.room).items() if k != "version"}
    cores = [vars(core) if hasattr(core, "__dict__") else core for core in venue.cores]
    return {"room": room, "cores": cores}


def check(store: Store, script: list[tuple[str, str, c.Command, float]]) -> None:
    rec = Recorder(store)
    for user in ("h", "u1", "u2"):
        rec.step("join", user, c.LeaveSeat(), 0.0)
    for step in script:
        rec.step(*step)
    got = recover(store, "p", RoomConfig())
    assert got is not None
    assert (got.n, got.seq) == (rec.n, rec.seq)
    assert state(got.venue) == state(rec.venue)
    assert got.venue.to_state() and Venue.from_state(got.venue.to_state()).id == "p"


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_replay_gives_the_live_state_memory(script: list[Any]) -> None:
    check(open_store("memory"), script)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_replay_gives_the_live_state_sqlite(script: list[Any]) -> None:
    # Through SQLite: commands and profiles survive their JSON round trip.
    with tempfile.TemporaryDirectory() as d:
        store = open_store(f"sqlite:///{Path(d) / 's.db'}")
        store.upgrade()
        try:
            check(store, script)
        finally:
            store.close()


def test_room_config_round_trips() -> None:
    assert room_config(room_config_wire(CONFIG)) == CONFIG
    assert room_config({**room_config_wire(CONFIG), "from_a_newer_version": 1}) == CONFIG
