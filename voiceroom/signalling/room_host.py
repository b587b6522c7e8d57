"""One serialized command stream per room, event fan-out, resume, and the room registry.

Everything that reads or changes a :class:`Room` runs as a *job* on the room's own task, one
at a time: joins, commands, disconnects, ticks. Jobs are plain synchronous functions, so no
two of them interleave and the pure core never sees a race. A job numbers the events the
core returned (the per-room ``seq``), encodes each once, keeps it in the replay buffer, and
appends the frame to the outbox of every connection its audience selects.

Durability (docs/adr/0001-store.md): a job whose entry-point call was accepted also records
it — a journal entry, its numbered events, now and then a snapshot — and hands that to the
store's writer thread. Everything the job would send (events, the reply, welcome, closes)
is *held* and released only once that write has committed, in job order; a job that
recorded nothing releases right away unless earlier output is still waiting. So a client
never sees an "ok", or an event, that a crash could take back. The media plane follows the
room state at once: it never waits on the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import Enum, StrEnum
from typing import Any

from voiceroom.config import Config
from voiceroom.observability import Metrics, flatten_numbers, get_logger
from voiceroom.protocol import (
    VERSION,
    CloseCode,
    MediaSpeaking,
    Request,
    RoomCount,
    encode_error,
    encode_event,
    encode_message,
    encode_reply,
    is_ephemeral,
)
from voiceroom.room import commands as c
from voiceroom.room.core import Room
from voiceroom.room.errors import ErrorCode, RuleError
from voiceroom.room.events import Emit, MemberLeft, MusicChanged, PhaseChanged
from voiceroom.room.model import MODERATORS, ConsultMode, Phase, RoomConfig
from voiceroom.signalling.connection import Connection
from voiceroom.signalling.durable import (
    Recovered,
    command_body,
    event_record,
    profile_body,
    recover,
)
from voiceroom.signalling.media_bridge import (
    MediaBridge,
    MediaRoomFactory,
    MusicLibrary,
)
from voiceroom.signalling.replay import Numbered, ReplayBuffer
from voiceroom.store.base import (
    CheckinRow,
    Entry,
    EntryKind,
    RoomRecord,
    SnapshotRecord,
    Store,
    Write,
)
from voiceroom.store.base import room_config_wire as _config_wire
from voiceroom.store.writer import StoreWriter
from voiceroom.venue import Venue, needs_entropy
from voiceroom.wire_form import plain

Job = Callable[[], None]
After = list[Callable[[], None]]
# Sees every numbered event a room published: (room id, [(seq, emit)], now). Called inside
# the room job, so it must only append to memory (webhook outbox, history projections).
EventSink = Callable[[str, Sequence[tuple[int, Emit]], float], None]


class _Output:
    """One job's held output, released in job order once its write committed."""

    __slots__ = ("fns", "ready")

    def __init__(self, fns: list[Callable[[], None]], ready: bool) -> None:
        self.fns = fns
        self.ready = ready


def _noop() -> None:
    return None


# Why a member's connection is closed when the room removes them (MemberLeft.reason).
_LEFT_CLOSE: dict[str, CloseCode] = {"kicked": CloseCode.KICKED, "left": CloseCode.NORMAL}


class RoomHost:
    """A room, its connections and its command stream."""

    def __init__(
        self,
        room_id: str,
        config: Config,
        metrics: Metrics,
        *,
        persistent: bool = False,
        media_factory: MediaRoomFactory | None = None,
        on_closed: Callable[[RoomHost, bool], None] | None = None,
        clock: Callable[[], float] = time.time,
        tracks: Sequence[str] | None = None,
        writer: StoreWriter | None = None,
        recovered: Recovered | None = None,
        room_config: RoomConfig | None = None,
        meta: Mapping[str, Any] | None = None,
        sinks: Sequence[EventSink] = (),
    ) -> None:
        self.id = room_id
        self.config = config
        # ``room_config``: this room's own policy (HTTP API), else the server default;
        # ``meta``: title, market, time_zone for the store's room record.
        policy = room_config or config.room
        self.sinks = tuple(sinks)
        self.ice = config.ice_settings()
        # The room and the cores beside it; every change goes through its entry points.
        self.venue = recovered.venue if recovered is not None else Venue(room_id, policy)
        self.metrics = metrics
        self.persistent = persistent  # kept open when empty (e.g. the --demo room)
        self._arriving = 0  # joins between admission and their queued job (see admit)
        self.clock = clock
        self.seq = 0
        self.replay = ReplayBuffer(config.replay_buffer)
        # The durable store: n = the room's last journal entry.
        self.writer = writer
        self.n = 0
        self._snap_n = 0
        self._held: list[Callable[[], None]] = []  # this job's output
        self._writes: list[Write] = []  # this job's records
        self._outputs: deque[_Output] = deque()  # held output of earlier jobs, in order
        if recovered is not None:
            self.n, self.seq, self._snap_n = recovered.n, recovered.seq, recovered.snapshot_n
            for seq, emit in recovered.replayed:
                self.replay.append(Numbered(seq, emit, encode_event(emit.event, seq)))
            if writer is not None:
                writer.submit(Write(room_id, hosted=True), _noop)
        elif writer is not None:
            # The API passes its own created_at (the one it answered with) in ``meta``.
            fields: dict[str, Any] = {"created_at": clock(), **dict(meta or {})}
            record = RoomRecord(
                room_id,
                _config_wire(policy),
                show_starts_at=policy.show_starts_at,
                **fields,
            )
            writer.submit(Write(room_id, room_record=record), _noop)
        self.conns: dict[str, Connection] = {}
        self.closed = False
        self.log = get_logger(room=room_id)
        self._on_closed = on_closed
        self._jobs: asyncio.Queue[Job | None] = asyncio.Queue()
        self._media_version = -1
        # Who the media plane says is talking now: media.speaking is ephemeral, so a late
        # joiner learns it from the welcome instead.
        self.speaking_now: set[str] = set()
        # Who was told each of them is speaking (None: everyone), so a 1v1 turning private
        # or public can take the ring back or show it (see _speaking_audience).
        self._ring_audience: dict[str, frozenset[str] | None] = {}
        self._rings_version = -1
        self._count_sent = 0  # the member count the room last heard in room.count
        self._count_at = -float("inf")  # when (monotonic)
        self._media_closer: asyncio.Task[None] | None = None
        self.media: MediaBridge | None = None
        if media_factory is not None:
            self.media = MediaBridge(
                room_id,
                media_factory,
                music_dir=config.music_dir,
                on_speaking=self.speaking,
                log=self.log,
            )
        self.set_tracks(tracks)  # the music library's names (Registry.library)
        self._task = asyncio.create_task(self._run(), name=f"room-{room_id}")
        self._ticker = asyncio.create_task(self._tick_loop(), name=f"tick-{room_id}")

    def set_tracks(self, names: Sequence[str] | None) -> None:
        """The music library's names, an outside fact the room checks ``music.play``
        against: journaled like a call, so replay sees the library each command saw.
        (A job, or the constructor: its record goes out with the first job.)"""
        new = None if names is None else tuple(names)
        if new == self.venue.room.tracks:
            return
        self.venue.room.set_tracks(new)
        body = {"names": None if new is None else list(new)}
        self._journal(EntryKind.TRACKS, self.clock(), [], body=body)

    @property
    def room(self) -> Room:
        """The room core (read-only use by the edges; changes go through ``venue``)."""
        return self.venue.room

    # ------------------------------------------------------------------ the stream
    def submit(self, job: Job) -> bool:
        """Queue a job for the room task; False when the room is closed."""
        if self.closed:
            return False
        self._jobs.put_nowait(job)
        return True

    async def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the room task and return its result (tests and admin tools)."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def job() -> None:
            try:
                fut.set_result(fn())
            except Exception as exc:
                fut.set_exception(exc)

        if not self.submit(job):
            raise RuntimeError(f"room {self.id} is closed")
        return await fut

    async def _run(self) -> None:
        while True:
            job = await self._jobs.get()
            if job is None:
                return
            try:
                job()
            except Exception:
                self.log.exception("room job failed")
            self._end_job()
            if self.media is not None and self.room.version != self._media_version:
                # Who hears whom follows every change of state (design: routing matrix).
                self._media_version = self.room.version
                self.media.set_routing(self.room.routing())
            if self.room.version != self._rings_version:
                self._rings_version = self.room.version
                self._refresh_rings()
            self._broadcast_count()

    async def _tick_loop(self) -> None:
        interval = self.config.tick_interval
        due = time.monotonic()
        while True:
            due += interval
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            self.submit(functools.partial(self._due_tick, due))
            due = max(due, time.monotonic() - interval)  # far behind: no burst of ticks

    def _due_tick(self, due: float) -> None:
        # Lateness = event-loop lag + jobs queued ahead: what a busy room costs its timers.
        self.metrics.observe("voiceroom_tick_lateness_seconds", time.monotonic() - due)
        self.tick()

    # ------------------------------------------------------------------ jobs
    async def stored_streak(self, user: str) -> CheckinRow | None:
        """The user's check-in streak across rooms from the store (None without one).
        Read in the async join path, never inside a job; after every write queued before
        it, so a check-in this process already accepted elsewhere is seen."""
        if self.writer is None:
            return None
        row: CheckinRow | None = await self.writer.call(lambda store: store.checkin(user))
        return row

    async def admit(self, conn: Connection, resume: int | None) -> bool:
        """Read the joiner's stored streak (off the room job), then queue the join; False if
        the room closed meanwhile. While a join is on its way the room is not empty: a tick
        must not dispose of a room its host is entering (the read can take a while)."""
        self._arriving += 1
        try:
            try:
                streak = await self.stored_streak(conn.user)
            except Exception:
                self.log.exception("check-in streak could not be read")  # join without it
                streak = None
            return self.submit(lambda: self.join(conn, resume, streak))
        finally:
            self._arriving -= 1

    def join(self, conn: Connection, resume: int | None, streak: CheckinRow | None = None) -> None:
        """A connection arrives: join or rejoin, newest connection wins, welcome.
        ``streak``: the user's stored check-in streak (``stored_streak``), loaded into the
        room through a journaled entry point right after the join."""
        now = self.clock()
        user = conn.user
        existed = user in self.room.members
        profile = conn.claims.profile()
        try:
            emits = self.venue.join(profile, now)
        except RuleError as exc:
            conn.send(encode_error(None, exc.code, exc.message), force=True)
            conn.detached = True
            code = CloseCode.KICKED if exc.code is ErrorCode.BANNED else CloseCode.ROOM_CLOSED
            conn.close(code, exc.message)
            return
        old = self.conns.pop(user, None)
        if old is not None and old is not conn:
            # Newest wins: the old socket goes, the member stays connected.
            old.detached = True
            old.close(CloseCode.REPLACED, "replaced by a newer connection")
            old.log.info("connection replaced", by=conn.id)
        after: After = []
        numbered = self._publish(emits, after)
        self._journal(EntryKind.JOIN, now, numbered, user=user, body=profile_body(profile))
        if streak is not None:
            self._load_streak(user, streak, now)
        self.conns[user] = conn
        member = self.room.members[user]
        replay: list[Numbered] = []
        if existed and resume is not None and self.replay.covers(resume, self.seq):
            replay = list(self.replay.after(resume, user, member.role))
            snapshot = None
            self.metrics.inc("voiceroom_resumes_total", outcome="replay")
        else:
            snapshot = self.venue.snapshot(user)
            if resume is not None:
                self.metrics.inc("voiceroom_resumes_total", outcome="snapshot")
        session = {
            "conn": conn.id,
            "room": self.id,
            "user": user,
            "role": member.role.value,
            "protocol": VERSION,
            "server_time": now,
            "reconnect_grace": self.room.config.reconnect_grace,
            "media": self.media is not None,
            "media_peer": self.media is not None and self.media.has_peer(user),
            "address": conn.address,
            "secure": conn.secure,
            **self.ice.wire(user, now),
        }
        body = {
            "session": session,
            "resumed": existed,
            "snapshot": snapshot,
            "replayed": len(replay),
            **self._live_state(user),
        }
        self._send(conn, encode_message("welcome", body, seq=self.seq), force=True)
        for item in replay:
            self._send(conn, item.frame, force=True)
        conn.log.info("joined", resumed=existed, replayed=len(replay), role=member.role.value)
        self.metrics.observe("voiceroom_join_seconds", time.monotonic() - conn.opened_at)
        self._held.extend(after)

    def _load_streak(self, user: str, row: CheckinRow, now: float) -> None:
        """Feed the stored streak to the room (``EntryKind.STREAK``) when it is newer than
        the room's own: replay sees the same data without reading the table again."""
        current = self.venue.streak(user)
        if current is not None and current.day >= row.last_day:
            return  # the room's own is as new: nothing to journal
        try:
            self.venue.load_streak(user, row.last_day, row.streak, now)
        except RuleError as exc:  # a damaged row: the room goes on without it
            self.log.warning("stored check-in streak refused", user=user, error=exc.message)
            return
        body = {"day": row.last_day, "count": row.streak}
        self._journal(EntryKind.STREAK, now, [], user=user, body=body)

    def command(self, conn: Connection, req: Request) -> None:
        if self.conns.get(conn.user) is not conn:
            return  # replaced or removed meanwhile: its late commands are void
        cmd = req.message
        try:
            # The cores check the role first, then the phase, then the arguments (for
            # music.play: a name its library lists), so a refusal leaks nothing.
            entropy = secrets.token_bytes(32) if needs_entropy(cmd) else b""
            now = self.clock()
            emits = self.venue.handle(conn.user, cmd, now, entropy=entropy)
        except RuleError as exc:
            self._refuse(conn, req, exc.code, exc.message)
            return
        except Exception:
            conn.log.exception("command failed", type=req.type)
            self._refuse(conn, req, ErrorCode.INTERNAL, "internal error")
            return
        after: After = []
        numbered = self._publish(emits, after)
        self._journal(EntryKind.HANDLE, now, numbered, user=conn.user, cmd=cmd, entropy=entropy)
        music_dir = self.config.music_dir
        if isinstance(cmd, c.PlayMusic) and self.media is not None and music_dir is not None:
            # Accepted, so the name is one the library listed: a file directly inside it.
            self.media.play_music(music_dir / cmd.track, cmd.gain, cmd.loop)
        self.metrics.inc("voiceroom_commands_total", type=req.type, outcome="ok")
        self._send(conn, encode_reply(req.id, {"seq": self.seq}))
        self._held.extend(after)

    async def server_command(self, cmd: c.Command) -> int:
        """Apply ``cmd`` on the server's own authority (the HTTP API, admin tools: the
        caller authorised it) through ``Venue.handle_as_server``, journaled like a
        member's command. Returns the room's ``seq`` after it, once committed (a durable
        "ok"); raises RuleError with nothing changed."""
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def job() -> None:
            entropy = secrets.token_bytes(32) if needs_entropy(cmd) else b""
            now = self.clock()
            try:
                emits = self.venue.handle_as_server(cmd, now, entropy=entropy)
            except Exception as exc:
                fut.set_exception(exc)
                return
            after: After = []
            numbered = self._publish(emits, after)
            self._journal(EntryKind.SERVER, now, numbered, cmd=cmd, entropy=entropy)
            seq = self.seq
            self._held.extend(after)
            self._held.append(lambda: None if fut.done() else fut.set_result(seq))

        if not self.submit(job):
            raise RuntimeError(f"room {self.id} is closed")
        return await fut

    async def set_tier(self, user: str, tier: str) -> int:
        """The server changes a member's tier (``Venue.set_tier``, the HTTP API), journaled
        (``EntryKind.TIER``) like ``server_command``; returns the seq once committed."""
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def job() -> None:
            now = self.clock()
            try:
                if user not in self.room.members:  # the core ignores them; the API says 404
                    raise RuleError(ErrorCode.UNKNOWN_USER, f"{user!r} is not in this room")
                emits = self.venue.set_tier(user, tier, now)
            except Exception as exc:
                fut.set_exception(exc)
                return
            after: After = []
            numbered = self._publish(emits, after)
            if numbered:
                body = {"user": user, "tier": tier}
                self._journal(EntryKind.TIER, now, numbered, user=user, body=body)
            seq = self.seq
            self._held.extend(after)
            self._held.append(lambda: None if fut.done() else fut.set_result(seq))

        if not self.submit(job):
            raise RuntimeError(f"room {self.id} is closed")
        return await fut

    def sync(self, conn: Connection, req: Request) -> None:
        if self.conns.get(conn.user) is not conn:
            return
        body = {
            "seq": self.seq,
            "snapshot": self.venue.snapshot(conn.user),
            **self._live_state(conn.user),
        }
        self.metrics.inc("voiceroom_commands_total", type=req.type, outcome="ok")
        self._send(conn, encode_reply(req.id, body), force=True)

    def leave(self, conn: Connection, req: Request) -> None:
        if self.conns.get(conn.user) is not conn:
            return
        after: After = []
        now = self.clock()
        numbered = self._publish(self.venue.leave(conn.user, now, "left"), after)
        self._journal(EntryKind.LEAVE, now, numbered, user=conn.user, body={"reason": "left"})
        self.metrics.inc("voiceroom_commands_total", type=req.type, outcome="ok")
        self._send(conn, encode_reply(req.id, {"seq": self.seq}))
        conn.detached = True
        self._held.append(lambda: conn.close(CloseCode.NORMAL, "left"))
        self._held.extend(after)
        self._dispose_if_empty()

    def disconnected(self, conn: Connection) -> None:
        """The socket of ``conn`` is gone. Keep the member for the grace period."""
        if self.conns.get(conn.user) is conn:
            del self.conns[conn.user]
        if conn.detached:
            return
        self._disconnect(conn.user)

    def _disconnect(self, user: str) -> None:
        after: After = []
        now = self.clock()
        numbered = self._publish(self.venue.disconnect(user, now), after)
        if numbered:  # nothing changed (already disconnected): nothing to record
            self._journal(EntryKind.DISCONNECT, now, numbered, user=user)
        self._held.extend(after)

    def recovered(self) -> None:
        """First job after a restart: nobody is connected yet. Members are marked
        disconnected now, so their seats and queue places are held for the reconnect
        grace, counted from the restart; whoever resumes in time keeps them."""
        for user, member in list(self.room.members.items()):
            if member.connected and user not in self.conns:
                self._disconnect(user)

    def tick(self) -> None:
        after: After = []
        now = self.clock()
        numbered = self._publish(self.venue.tick(now), after)
        if numbered:  # a tick that changed nothing is not journaled
            self._journal(EntryKind.TICK, now, numbered)
        self._held.extend(after)
        self._dispose_if_empty()

    def _live_state(self, user: str) -> dict[str, Any]:
        """What welcome and sync add to the core's snapshot: ephemeral state (who is
        speaking, sent even on a replayed resume since media.speaking is never replayed)
        and, for moderators, the music library."""
        member = self.room.members.get(user)
        moderator = member is not None and member.role in MODERATORS
        return {
            "speaking": sorted(u for u in self.speaking_now if self._sees_ring(user, u)),
            "tracks": list(self.room.tracks or ()) if moderator else None,
        }

    # ------------------------------------------------------------------ ephemeral events
    def speaking(self, user: str, speaking: bool) -> None:
        """Voice activity from the media plane, no seq, never replayed: to everyone who
        can hear ``user`` (see :meth:`_speaking_audience`)."""
        if speaking and user not in self.room.members:
            return  # a late callback for someone who already left
        if (user in self.speaking_now) == speaking:
            return  # no change: nothing to tell
        if speaking:
            self.speaking_now.add(user)
            audience = self._ring_audience[user] = self._speaking_audience(user)
        else:
            self.speaking_now.discard(user)
            audience = self._ring_audience.pop(user, None)  # those who saw it start
        frame = encode_event(MediaSpeaking(user, speaking), None)
        # The connections of now: a send held behind the store must not reach someone who
        # joins meanwhile before their welcome (which already says who is speaking).
        targets = [c for v, c in self.conns.items() if audience is None or v in audience]

        def send() -> None:
            for conn in targets:
                conn.send(frame)

        self._ephemeral(send)

    def _speaking_audience(self, user: str) -> frozenset[str] | None:
        """Who may see ``user`` speaking: everyone (None), except while ``user`` is in a
        private consultation: then only the pair, who alone can hear it. A ring nobody
        can hear would read as broken audio and leak that a private call is going on."""
        consult = self.room.consultation_of(user)
        if consult is not None and consult.mode is ConsultMode.PRIVATE:
            return frozenset((consult.staff, consult.shopper))
        return None

    def _sees_ring(self, viewer: str, user: str) -> bool:
        audience = self._speaking_audience(user)
        return audience is None or viewer in audience

    def _refresh_rings(self) -> None:
        """After a change of state: a 1v1 that started, ended or switched mode changes
        who may see a ring that is on now; tell exactly those whose view changed."""
        conns = list(self.conns.items())  # as in speaking(): the connections of now
        for user in self.speaking_now:
            old = self._ring_audience.get(user)
            new = self._speaking_audience(user)
            if old == new:
                continue
            self._ring_audience[user] = new
            on = encode_event(MediaSpeaking(user, True), None)
            off = encode_event(MediaSpeaking(user, False), None)

            def send(
                old: frozenset[str] | None = old,
                new: frozenset[str] | None = new,
                on: bytes = on,
                off: bytes = off,
            ) -> None:
                for viewer, conn in conns:
                    saw, sees = old is None or viewer in old, new is None or viewer in new
                    if saw != sees:
                        conn.send(on if sees else off)

            self._ephemeral(send)

    def _broadcast_count(self) -> None:
        """room.count to everyone when the member count changed, at most every
        ``count_interval`` s: one encode and a send per connection, cheap for big rooms.
        A change inside the interval goes out with a later job (ticks run every
        ``tick_interval``)."""
        count = len(self.room.members)
        if count == self._count_sent or self.closed:
            return
        now = time.monotonic()
        if now - self._count_at < self.config.count_interval:
            return
        self._count_sent, self._count_at = count, now
        frame = encode_event(RoomCount(count), None)
        # The connections of now: one that joins later (its welcome still held for the
        # store) must not get this before its welcome when the frame is released.
        targets = list(self.conns.values())

        def send() -> None:
            for conn in targets:
                conn.send(frame)

        self._ephemeral(send)

    def _ephemeral(self, send: Callable[[], None]) -> None:
        """Ephemeral frames go out now — unless output is still waiting for the store:
        then behind it, so nobody gets one before their welcome or ahead of the events
        it follows."""
        if self._outputs:
            self._outputs.append(_Output([send], ready=True))
        else:
            send()

    # ------------------------------------------------------------------ fan-out
    def _publish(self, emits: Iterable[Emit], after: After) -> list[tuple[int, Emit, Any]]:
        """Number the events, keep them for resume, hold their frames for delivery, and
        run the host's side effects. Returns (seq, emit) for the journal."""
        members = self.room.members
        numbered: list[tuple[int, Emit, dict[str, Any]]] = []
        for emit in emits:
            if is_ephemeral(emit.event):
                # A throttled counter (sale.left, group.progress): no seq, not journaled,
                # never replayed; the next snapshot or lifecycle event carries the value.
                frame = encode_event(emit.event, None)
            else:
                self.seq += 1
                # One wire body for both the frame and the journal's event record.
                body = plain(emit.event)
                numbered.append((self.seq, emit, body))
                frame = encode_message(emit.event.TYPE, body, seq=self.seq)
                self.replay.append(Numbered(self.seq, emit, frame))
            to = emit.to
            if to.roles is None:
                targets: Iterable[Connection] = list(self.conns.values())
            elif not to.roles:
                # Named users only (a claim's sale.claimed, a queue position): look them up
                # instead of scanning every connection, once per claim in a 1,000-claim burst.
                targets = [conn for user in to.users if (conn := self.conns.get(user))]
            else:
                roles, users = to.roles, to.users
                targets = [
                    conn
                    for user, conn in self.conns.items()
                    if user in users or ((m := members.get(user)) is not None and m.role in roles)
                ]
            self._held.append(self._deliver(frame, list(targets)))
            self.metrics.inc("voiceroom_events_total")
            self._side_effects(emit, after)
        if numbered and self.sinks:
            now = self.clock()
            pairs = [(seq, emit) for seq, emit, _ in numbered]
            for sink in self.sinks:
                try:
                    sink(self.id, pairs, now)
                except Exception:
                    self.log.exception("event sink failed")
        return numbered

    def _deliver(self, frame: bytes, targets: list[Connection]) -> Callable[[], None]:
        def deliver() -> None:
            sent = 0
            for conn in targets:
                sent += conn.send(frame)
            self.metrics.inc("voiceroom_event_deliveries_total", sent)

        return deliver

    def _side_effects(self, emit: Emit, after: After) -> None:
        event = emit.event
        if isinstance(event, MemberLeft):
            gone = self.conns.pop(event.user, None)
            if gone is not None:
                gone.detached = True
                code = _LEFT_CLOSE.get(event.reason, CloseCode.NORMAL)
                reason = event.reason
                after.append(lambda: gone.close(code, reason))
            if event.user in self.speaking_now:
                self.speaking(event.user, False)  # no stale ring if they come back
            if self.media is not None:
                self.media.disconnect(event.user)
        elif isinstance(event, PhaseChanged) and event.phase == Phase.ENDED.value:
            after.append(self._ended)
        elif isinstance(event, MusicChanged) and event.track is None and self.media is not None:
            self.media.stop_music()

    # ------------------------------------------------------------------ durable output
    def _send(self, conn: Connection, frame: bytes, *, force: bool = False) -> None:
        """Send ``frame`` when this job's output is released."""

        def send() -> None:
            conn.send(frame, force=force)

        self._held.append(send)

    def _journal(
        self,
        kind: EntryKind,
        now: float,
        numbered: list[tuple[int, Emit, Any]],
        *,
        user: str | None = None,
        cmd: c.Command | None = None,
        body: dict[str, Any] | None = None,
        entropy: bytes = b"",
    ) -> None:
        """Record an accepted entry-point call: its journal entry, its events, and every
        ``snapshot_every`` entries the whole venue state."""
        if self.writer is None:
            return
        self.n += 1
        type_ = None
        if cmd is not None:
            type_, body = cmd.TYPE, command_body(cmd)
        entry = Entry(self.id, self.n, kind, now, user, type_, body, entropy)
        records = [
            event_record(self.id, seq, self.n, emit, now, body) for seq, emit, body in numbered
        ]
        snapshot = None
        if self.n - self._snap_n >= self.config.snapshot_every:
            snapshot = SnapshotRecord(self.id, self.n, self.seq, self.venue.to_state(), now)
            self._snap_n = self.n
        self._writes.append(Write(self.id, entry, records, snapshot))

    def _end_job(self) -> None:
        """Hand the job's records to the writer and its output to the release queue."""
        held, self._held = self._held, []
        writes, self._writes = self._writes, []
        if writes and self.writer is not None:
            out = _Output(held, ready=False)
            self._outputs.append(out)
            for write in writes[:-1]:
                self.writer.submit(write, _noop, self._store_failed)
            self.writer.submit(writes[-1], lambda: self._committed(out), self._store_failed)
        elif self._outputs:
            self._outputs.append(_Output(held, ready=True))  # behind output still waiting
        else:
            self._release(held)

    def _store_failed(self, exc: BaseException) -> None:
        """A write of this room can never commit: the state here is ahead of the store,
        and nothing after it may be acknowledged. Close the room (1011, reconnect): the
        next join rebuilds it from what was committed."""
        if self.closed:
            return
        self.log.error("the store refused this room's write: closing it", error=repr(exc))
        self.metrics.inc("voiceroom_store_room_failures_total")
        self._outputs.clear()  # never released: none of it was committed
        for conn in list(self.conns.values()):
            conn.detached = True
            conn.close(CloseCode.INTERNAL_ERROR, "server error: reconnect")
        self.conns.clear()
        self._dispose(ended=False)

    def _committed(self, out: _Output) -> None:
        out.ready = True
        while self._outputs and self._outputs[0].ready:
            self._release(self._outputs.popleft().fns)

    def _release(self, fns: list[Callable[[], None]]) -> None:
        for fn in fns:
            try:
                fn()
            except Exception:
                self.log.exception("releasing output failed")

    def _refuse(self, conn: Connection, req: Request, code: StrEnum, message: str) -> None:
        self.metrics.inc("voiceroom_commands_total", type=req.type, outcome="error")
        self.metrics.inc("voiceroom_errors_total", code=code.value)
        self._send(conn, encode_error(req.id, code, message))

    # ------------------------------------------------------------------ lifecycle
    def _ended(self) -> None:
        for conn in self.conns.values():
            conn.detached = True
            conn.close(CloseCode.ROOM_CLOSED, "the room has ended")
        self.conns.clear()
        self._dispose(ended=True)

    def _dispose_if_empty(self) -> None:
        # Not while jobs wait (e.g. a join queued behind the last leave) or a join is on its
        # way (admit): a later tick will.
        idle = self._jobs.empty() and not self._arriving
        if not self.room.members and not self.persistent and not self.closed and idle:
            self._dispose(ended=False)

    def _dispose(self, *, ended: bool) -> None:
        if self.closed:
            return
        self.closed = True
        self.log.info("room closed", ended=ended, seq=self.seq)
        if self.writer is not None:
            # Not hosted any more: a restart leaves it in the store until someone opens it.
            self.writer.submit(Write(self.id, hosted=False), _noop)
        if self._on_closed is not None:
            self._on_closed(self, ended)
        self._jobs.put_nowait(None)
        self._ticker.cancel()
        if self.media is not None:
            self._media_closer = asyncio.create_task(self.media.close())

    async def aclose(self) -> None:
        """Stop the room task (server shutdown); pending jobs are dropped."""
        self.closed = True
        self._ticker.cancel()
        self._task.cancel()
        for task in (self._ticker, self._task):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.media is not None:
            await self.media.close()


class RoomStatus(Enum):
    OPEN = "open"
    ENDED = "ended"
    MISSING = "missing"


class Registry:
    """The rooms this server hosts. Rooms open on a host's first join (or ``--demo``).

    With a store, ``recover()`` (at start) brings back every room a server was hosting
    when it stopped, and remembers which rooms ended (410) and which the store knows but
    nobody hosts now (opened again from the store, not from scratch)."""

    ENDED_MEMORY = 10_000  # without a store: ended room ids remembered (410, not 404)

    def __init__(
        self,
        config: Config,
        metrics: Metrics,
        media_factory: MediaRoomFactory | None = None,
        writer: StoreWriter | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics
        self.media_factory = media_factory
        self.writer = writer
        self.rooms: dict[str, RoomHost] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._stored: set[str] = set()  # rooms the store holds that are not ended
        self._opening: dict[str, asyncio.Future[RoomHost]] = {}
        self.sinks: list[EventSink] = []  # given to every room opened after they are added
        # Called with (room, "opened" | "closed" | "ended"): a worker tells its front.
        self.watchers: list[Callable[[str, str], None]] = []
        self.closing = False
        self.library = MusicLibrary(config.music_dir)  # listed now, at start
        self._rescan: asyncio.Task[None] | None = None
        metrics.collector(self._collect)

    def start(self) -> None:
        """Start re-listing the music library (off the loop) while serving."""
        if self._rescan is None and self.config.music_dir is not None:
            self._rescan = asyncio.create_task(self._rescan_loop(), name="music-library")

    async def _rescan_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.music_rescan_interval)
            try:
                changed = await self.library.refresh()
            except Exception:
                get_logger().exception("music library rescan failed")
                continue
            if changed:
                names = self.library.names
                for host in list(self.rooms.values()):
                    host.submit(functools.partial(host.set_tracks, names))

    def status(self, room_id: str) -> RoomStatus:
        if room_id in self.rooms:
            return RoomStatus.OPEN
        return RoomStatus.ENDED if room_id in self._ended else RoomStatus.MISSING

    def get(self, room_id: str) -> RoomHost | None:
        return self.rooms.get(room_id)

    @property
    def stored(self) -> frozenset[str]:
        """Rooms the store holds that have not ended (open here or not)."""
        return frozenset(self._stored)

    @property
    def full(self) -> bool:
        return len(self.rooms) >= self.config.max_rooms

    async def recover(self, only: frozenset[str] | None = None) -> list[str]:
        """At start: load the store's room list and bring back the rooms that were
        hosted (of them, those in ``only`` when given: a worker recovers the rooms leased
        to it). Returns their ids."""
        if self.writer is None:
            return []
        records = await self.writer.call(lambda store: store.rooms())
        back: list[RoomRecord] = []
        for rec in records:
            if rec.phase == "ended":
                self._ended[rec.id] = None
            else:
                self._stored.add(rec.id)
                if rec.comes_back and (only is None or rec.id in only):
                    back.append(rec)
        opened = []
        for rec in back:
            room_id = rec.id
            try:
                # An API room stays open while empty after a restart as before it.
                await self.open(room_id, persistent=rec.made_by_api)
                opened.append(room_id)
            except Exception:
                # One room that cannot be rebuilt must not keep the others down: it stays
                # in the store, and its host's next join tries again (and is told 1011).
                get_logger(room=room_id).exception("room could not be recovered")
                self.metrics.inc("voiceroom_rooms_recovery_failed_total")
        return opened

    def elsewhere(self, room_id: str, event: str) -> None:
        """Another worker opened (the store holds it now) or ended a room: what status()
        and open() answer here follows, should the room come to this worker later."""
        if room_id in self.rooms:
            return
        if event == "ended":
            self._stored.discard(room_id)
            self._ended[room_id] = None
        elif event == "opened":
            self._ended.pop(room_id, None)
            if self.writer is not None:
                self._stored.add(room_id)

    async def forget_if_ended(self, room_id: str) -> None:
        """Drop an ended room from the store (the ``--demo`` room starts afresh)."""
        if room_id in self.rooms or room_id not in self._ended:
            return
        self._ended.pop(room_id, None)
        self._stored.discard(room_id)
        if self.writer is not None:
            await self.writer.call(lambda store: store.delete_room(room_id))

    async def open(
        self,
        room_id: str,
        *,
        persistent: bool = False,
        room_config: RoomConfig | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> RoomHost:
        """The room's host, opened (or recovered from the store) now if needed.
        ``room_config``/``meta``: a new room's own policy and record (HTTP API); rooms created
        through the API open persistent, so they exist before anyone joins."""
        host = self.rooms.get(room_id)
        if host is not None:
            host.persistent = host.persistent or persistent
            return host
        opening = self._opening.get(room_id)
        if opening is not None:  # another connection is loading it: share the result
            return await asyncio.shield(opening)
        fut: asyncio.Future[RoomHost] = asyncio.get_running_loop().create_future()
        self._opening[room_id] = fut
        try:
            recovered = None
            if self.writer is not None and room_id in self._stored:
                started = time.perf_counter()
                default = self.config.room
                keep = self.config.replay_buffer
                writer = self.writer

                def load(store: Store) -> Recovered | None:
                    writer.clear_poison(room_id)  # rebuilt from what was committed
                    return recover(store, room_id, default, keep)

                recovered = await writer.call(load)
                if recovered is not None:
                    self.metrics.inc("voiceroom_rooms_recovered_total")
                    self.metrics.set(
                        "voiceroom_room_recovery_seconds", time.perf_counter() - started
                    )
            self._ended.pop(room_id, None)
            host = RoomHost(
                room_id,
                self.config,
                self.metrics,
                persistent=persistent,
                media_factory=self.media_factory,
                on_closed=self._closed,
                tracks=self.library.names,
                writer=self.writer,
                recovered=recovered,
                room_config=room_config,
                meta=meta,
                sinks=self.sinks,
            )
            self.rooms[room_id] = host
            self._stored.add(room_id)
            if recovered is not None:
                host.submit(host.recovered)
            host.log.info(
                "room opened",
                persistent=persistent,
                recovered=recovered is not None,
                n=host.n,
                seq=host.seq,
            )
            fut.set_result(host)
            for watch in self.watchers:
                watch(room_id, "opened")
            return host
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        finally:
            del self._opening[room_id]

    def _closed(self, host: RoomHost, ended: bool) -> None:
        if self.rooms.get(host.id) is host:
            del self.rooms[host.id]
            for watch in self.watchers:
                watch(host.id, "ended" if ended else "closed")
        if ended:
            self._ended[host.id] = None
            self._stored.discard(host.id)
            # The store remembers every ended room; without one, memory is bounded.
            while self.writer is None and len(self._ended) > self.ENDED_MEMORY:
                self._ended.popitem(last=False)

    async def aclose(self) -> None:
        self.closing = True
        if self._rescan is not None:
            self._rescan.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._rescan
        hosts = list(self.rooms.values())
        self.rooms.clear()
        await asyncio.gather(*(h.aclose() for h in hosts), return_exceptions=True)

    def _collect(self, m: Metrics) -> None:
        m.set("voiceroom_rooms", len(self.rooms))
        m.set("voiceroom_members", sum(len(h.room.members) for h in self.rooms.values()))
        m.clear("voiceroom_media")
        for host in self.rooms.values():
            if host.media is None:
                continue
            for stat, value in flatten_numbers(host.media.stats()):
                m.set("voiceroom_media", value, room=host.id, stat=stat)
