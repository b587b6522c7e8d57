"""A room session over one WebSocket: requests with replies, an event stream, a room mirror,
and automatic resume after a dropped socket.

The wire contract is :mod:`voiceroom.protocol`: binary msgpack frames, requests carry an
``id`` and get a ``reply`` or ``error`` with the same id, room events carry the room's
``seq``. The first frame the server sends is ``welcome``. When the socket drops for a
reason that allows it (no close frame, 1001/1011/1012 server going away or restarting, 4002
slow consumer), the client reconnects with ``resume=<last seq seen>``: the server replays
what this member missed, or sends a fresh snapshot, and the member keeps its seat as long
as it is back within the room's reconnect grace.

Usage::

    async with await RoomClient.join("ws://127.0.0.1:8765", token) as room:
        await room.raise_hand()
        await room.wait_until(lambda s: s.seated, timeout=30)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import ssl
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from voiceroom.client.errors import (
    ClientError,
    ConnectionLost,
    JoinRefused,
    ServerError,
    parse_code,
)
from voiceroom.client.shop import ShopVerbs
from voiceroom.client.state import Event, RoomState, Wire
from voiceroom.protocol import CloseCode, decode_server, encode_request

# Close codes after which reconnecting with ``resume`` makes sense. 1006 (no close frame)
# never appears on the wire (RFC 6455 section 7.1.5) - websockets reports it as None/1006.
RESUMABLE: Final = frozenset(
    {
        1006,
        CloseCode.GOING_AWAY,
        CloseCode.INTERNAL_ERROR,
        CloseCode.SERVICE_RESTART,
        CloseCode.SLOW_CONSUMER,
    }
)
# Handshake statuses worth retrying while resuming (server restarting, briefly overloaded).
RETRY_STATUSES: Final = frozenset({502, 503, 504})

StatePredicate = Callable[[RoomState], bool]
EventPredicate = Callable[[Event], bool]


def ws_url(url: str, token: str | None = None, *, resume: int | None = None) -> tuple[str, str]:
    """Normalise what a person has at hand into the WebSocket URL and the token.

    Accepts ``ws://host:port``, ``ws://host:port/ws[/room]``, ``http(s)://...`` (the links
    ``voiceroom serve --demo`` prints: ``http://host:port/?token=...``). A ``token`` argument
    wins over one in the URL."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None:
        raise ValueError(f"not a ws/http URL: {url!r}")
    query = dict(parse_qsl(parts.query))
    token = token or query.pop("token", None)
    query.pop("token", None)
    if not token:
        raise ValueError("no join token: pass one or use a link with ?token=")
    path = parts.path if parts.path.startswith("/ws") else "/ws"
    query["token"] = token
    if resume is not None:
        query["resume"] = str(resume)
    return urlunsplit((scheme, parts.netloc, path, urlencode(query), "")), token


class RoomClient(ShopVerbs):
    """One member's session in one room. Create it with :meth:`join`. The shop's verbs
    (``claim_sale``, ``start_sale``...) come from :class:`ShopVerbs`."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        auto_resume: bool = True,
        # Timeouts (seconds)
        request_timeout: float = 10.0,
        open_timeout: float = 10.0,
        resume_for: float = 30.0,  # give up resuming after this long
        reconnect_delays: Sequence[float] = (0.05, 0.2, 0.5, 1.0, 2.0),
        ssl_context: ssl.SSLContext | None = None,  # wss:// with a private CA (tests)
    ) -> None:
        self.url, self.token = ws_url(url, token)
        self.ssl_context = ssl_context
        self.auto_resume = auto_resume
        self.request_timeout = request_timeout
        self.open_timeout = open_timeout
        self.resume_for = resume_for
        self.reconnect_delays = tuple(reconnect_delays)
        self.state = RoomState()
        self.session: Wire = {}
        # The room's music library (welcome and sync): the names play_music() accepts.
        self.tracks: list[str] = []
        self.last_seq = 0
        self.resumes = 0
        self.version = 0  # bumped on every change of state or connection
        self.closed: ConnectionLost | None = None  # set once the session is over for good
        self._ws: ClientConnection | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[str, asyncio.Future[Wire]]] = {}
        self._subscribers: list[asyncio.Queue[Event | None]] = []
        self._changed = asyncio.Condition()
        self._runner: asyncio.Task[None] | None = None
        self._leaving = False
        self._resume_hooks: list[Callable[[], Any]] = []
        self._tasks: set[asyncio.Future[Any]] = set()  # strong refs to hook tasks

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    async def join(cls, url: str, token: str | None = None, **options: Any) -> RoomClient:
        """Connect, wait for the welcome, and start reading. Raises :class:`JoinRefused`
        (handshake refused) or :class:`ServerError` (e.g. ``room_ended``, ``banned``)."""
        client = cls(url, token, **options)
        await client._open(resume=None)
        client._runner = asyncio.create_task(client._run(), name=f"room-client-{client.user}")
        return client

    @property
    def user(self) -> str:
        return self.state.user

    @property
    def role(self) -> str:
        return self.state.role

    @property
    def connected(self) -> bool:
        return self._ws is not None and self.closed is None

    async def __aenter__(self) -> RoomClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def leave(self) -> None:
        """Leave the room for good (seat and queue place released at once), then close."""
        if self.closed is None and self._ws is not None:
            self._leaving = True
            with contextlib.suppress(ClientError, TimeoutError):
                await self.request("leave")
        await self.close()

    async def close(self) -> None:
        """Close the socket without leaving: the server keeps the member for its grace
        period (a later :meth:`join` with the same token resumes)."""
        self._leaving = True
        ws = self._ws
        if ws is not None:
            await ws.close()
        runner = self._runner
        if runner is not None and not runner.done():
            # Normally the reader ends with the socket; if it is between reconnect attempts,
            # stop it there.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(runner), 1.0)
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        self._finish(ConnectionLost(CloseCode.NORMAL, "closed by client"))

    async def drop(self) -> None:
        """Kill the TCP connection without a close frame, as a network failure would
        (for tests and demos of resume)."""
        if self._ws is not None:
            self._ws.transport.abort()

    def on_resume(self, hook: Callable[[], Any]) -> None:
        """Call ``hook`` after each successful resume (a coroutine function is scheduled)."""
        self._resume_hooks.append(hook)

    # ------------------------------------------------------------------ requests
    async def request(self, type_: str, **body: Any) -> Wire:
        """Send one request and return the reply body; raise :class:`ServerError` with the
        server's code on an error reply, :class:`ConnectionLost` if the socket drops first."""
        if self.closed is not None:
            raise self.closed
        ws = self._ws
        if ws is None:
            raise ConnectionLost(None, "not connected (resuming)")
        id_ = next(self._ids)
        fut: asyncio.Future[Wire] = asyncio.get_running_loop().create_future()
        self._pending[id_] = (type_, fut)
        try:
            await ws.send(encode_request(type_, id_, body))
            return await asyncio.wait_for(fut, self.request_timeout)
        except ConnectionClosed:
            raise ConnectionLost(ws.close_code, ws.close_reason or "") from None
        finally:
            self._pending.pop(id_, None)

    # --- verbs: one per room command (see voiceroom/room/commands.py) -----------------
    async def ping(self) -> float:
        """Round trip in seconds."""
        t0 = time.monotonic()
        await self.request("ping")
        return time.monotonic() - t0

    def _take_tracks(self, body: Wire) -> None:
        """The music library a welcome or a sync reply lists (absent: unchanged)."""
        if "tracks" in body:
            self.tracks = [str(t) for t in body["tracks"] or ()]

    async def sync(self) -> None:
        """Replace the mirror with a fresh snapshot."""
        reply = await self.request("sync")
        self.state.load_snapshot(reply["snapshot"])
        self._take_tracks(reply)
        self.last_seq = max(self.last_seq, int(reply["seq"]))
        await self._notify()

    async def send_chat(self, text: str) -> None:
        await self.request("chat.send", text=text)

    async def take_seat(self, seat: int | None = None) -> None:
        await self.request("seat.take", **_given(seat=seat))

    async def leave_seat(self) -> None:
        await self.request("seat.leave")

    async def move_seat(self, seat: int, user: str | None = None) -> None:
        await self.request("seat.move", seat=seat, **_given(user=user))

    async def raise_hand(self) -> None:
        await self.request("queue.join")

    async def lower_hand(self) -> None:
        await self.request("queue.cancel")

    async def accept_invite(self) -> None:
        await self.request("seat.accept_invite")

    async def decline_invite(self) -> None:
        await self.request("seat.decline_invite")

    async def mute(self) -> None:
        await self.request("mic.mute")

    async def unmute(self) -> None:
        await self.request("mic.unmute")

    async def request_consultation(self, note: str = "") -> None:
        await self.request("consult.request", note=note)

    async def cancel_request(self) -> None:
        await self.request("consult.cancel_request")

    async def end_consultation(self, id: int) -> None:
        await self.request("consult.end", id=id)

    # moderators
    async def promote(self, user: str | None = None, seat: int | None = None) -> None:
        """Seat a queued member (the head of the queue when ``user`` is None)."""
        await self.request("queue.promote", **_given(user=user, seat=seat))

    async def deny(self, user: str) -> None:
        await self.request("queue.deny", user=user)

    async def invite(self, user: str, seat: int | None = None) -> None:
        await self.request("seat.invite", user=user, **_given(seat=seat))

    async def demote(self, user: str) -> None:
        await self.request("seat.demote", user=user)

    async def lock_seat(self, seat: int) -> None:
        await self.request("seat.lock", seat=seat)

    async def unlock_seat(self, seat: int) -> None:
        await self.request("seat.unlock", seat=seat)

    async def mute_seat(self, seat: int) -> None:
        await self.request("seat.mute", seat=seat)

    async def unmute_seat(self, seat: int) -> None:
        await self.request("seat.unmute", seat=seat)

    async def kick(self, user: str) -> None:
        await self.request("room.kick", user=user)

    async def start_consultation(self, user: str, mode: str = "listen_in") -> int:
        """Switch the show to a 1v1 with ``user`` (``listen_in`` or ``private``); returns
        the consultation id."""
        await self.request("consult.start", user=user, mode=mode)
        for k in self.state.consultations.values():
            if user in (k["shopper"], k["staff"]) and k["staff"] == self.user:
                return int(k["id"])
        raise ClientError("consultation started but its event was not seen")

    async def set_consultation_mode(self, id: int, mode: str) -> None:
        """Switch the show's running 1v1 between ``listen_in`` and ``private`` in place."""
        await self.request("consult.set_mode", id=id, mode=mode)

    async def play_music(self, track: str, gain: float = 0.5, loop: bool = True) -> None:
        await self.request("music.play", track=track, gain=gain, loop=loop)

    async def stop_music(self) -> None:
        await self.request("music.stop")

    # host
    async def schedule_show(self, starts_at: float | None) -> None:
        await self.request("room.schedule", starts_at=starts_at)

    async def start_show(self) -> None:
        await self.request("room.start_show")

    async def end_room(self) -> None:
        await self.request("room.end")

    async def set_role(self, user: str, role: str) -> None:
        await self.request("room.set_role", user=user, role=role)

    # agents
    async def accept_request(self, user: str | None = None) -> None:
        await self.request("consult.accept", **_given(user=user))

    # games (docs/engagement.md): moderators run them, shoppers play
    async def open_lottery(
        self,
        prize: str,
        rule: str = "room",
        winners: int = 1,
        *,
        keyword: str | None = None,
        tier: str | None = None,
        weighted: bool = False,
    ) -> None:
        await self.request(
            "lottery.open",
            prize=prize,
            rule=rule,
            winners=winners,
            weighted=weighted,
            **_given(keyword=keyword, tier=tier),
        )

    async def draw_lottery(self) -> None:
        await self.request("lottery.draw")

    async def cancel_lottery(self) -> None:
        await self.request("lottery.cancel")

    async def open_guess(self, product: str, price: int, currency: str = "USD") -> None:
        """``price`` in minor units (cents), hidden from shoppers until the close."""
        await self.request("guess.open", product=product, price=price, currency=currency)

    async def guess(self, amount: int) -> None:
        await self.request("guess.submit", amount=amount)

    async def close_guess(self) -> None:
        await self.request("guess.close")

    async def open_vote(self, question: str, options: Sequence[str]) -> None:
        await self.request("vote.open", question=question, options=list(options))

    async def vote(self, option: int) -> None:
        await self.request("vote.cast", option=option)

    async def close_vote(self) -> None:
        await self.request("vote.close")

    async def check_in(self) -> None:
        await self.request("checkin.daily")

    async def send_prompt(self, id: str, **params: str) -> None:
        await self.request("prompt.send", id=id, params=params)

    async def schedule_prompt(self, id: str, at: float, **params: str) -> None:
        await self.request("prompt.schedule", id=id, at=at, params=params)

    async def set_market(self, zone: str) -> None:
        await self.request("market.set", zone=zone)

    # ------------------------------------------------------------------ events
    async def events(self) -> AsyncIterator[Event]:
        """Every event from now on, in order, until the session is over."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._subscribers.append(queue)
        try:
            while self.closed is None or not queue.empty():
                event = await queue.get()
                if event is None:
                    return
                yield event
        finally:
            self._subscribers.remove(queue)

    async def wait_for(
        self,
        type_: str,
        where: EventPredicate | None = None,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - a bounded wait is the point of this helper
    ) -> Event:
        """The next event of ``type_`` (matching ``where``) from now on."""
        async with asyncio.timeout(timeout):
            async for event in self.events():
                if event.type == type_ and (where is None or where(event)):
                    return event
        raise self.closed or ConnectionLost(None)

    async def wait_until(
        self,
        check: StatePredicate,
        *,
        timeout: float | None = 10.0,  # noqa: ASYNC109 - a bounded wait is the point of this helper
    ) -> RoomState:
        """Wait until ``check(state)`` holds (checked now and after every event);
        ``timeout`` None waits for ever. Raises :class:`ConnectionLost` once the session
        is over."""
        async with asyncio.timeout(timeout), self._changed:
            while not check(self.state):
                if self.closed is not None:
                    raise self.closed
                await self._changed.wait()
        return self.state

    # ------------------------------------------------------------------ internals
    async def _open(self, resume: int | None) -> None:
        url, _ = ws_url(self.url, self.token, resume=resume)
        # wss:// without a context: the system's CAs (websockets' default).
        extra: Any = (
            {"ssl": self.ssl_context} if url.startswith("wss:") and self.ssl_context else {}
        )
        try:
            ws = await connect(
                url,
                compression=None,
                proxy=None,  # a room server on loopback must not go through $https_proxy
                open_timeout=self.open_timeout,
                max_size=4 * 1024 * 1024,  # welcome snapshots of big rooms
                user_agent_header="voiceroom-client",
                **extra,
            )
        except InvalidStatus as exc:
            # The server's reason is one line of text; the HTTP body ends with a newline.
            text = (exc.response.body or b"").decode(errors="replace").strip()
            raise JoinRefused(exc.response.status_code, text) from None
        except InvalidHandshake as exc:
            raise JoinRefused(0, str(exc)) from None
        try:
            first = decode_server(_as_bytes(await ws.recv()))
        except ConnectionClosed:
            raise ConnectionLost(ws.close_code, ws.close_reason or "") from None
        if first.get("type") == "error":
            await ws.close()
            raise ServerError(parse_code(first.get("code")), str(first.get("message", "")))
        if first.get("type") != "welcome":
            await ws.close()
            raise ClientError(f"expected welcome, got {first.get('type')!r}")
        body: Wire = first.get("body") or {}
        self.session = dict(body.get("session") or {})
        self._take_tracks(body)
        snapshot = body.get("snapshot")
        if snapshot is not None:
            self.state.load_snapshot(snapshot)
            self.last_seq = int(first.get("seq") or 0)
        # else: the replayed events follow and move last_seq forward as they arrive
        self._ws = ws
        if resume is not None:
            self.resumes += 1
            self._emit(
                Event(
                    "connection.resumed",
                    {"replayed": int(body.get("replayed") or 0), "snapshot": snapshot is not None},
                )
            )
        await self._notify()

    async def _run(self) -> None:
        while True:
            ws = self._ws
            assert ws is not None
            try:
                async for data in ws:
                    await self._on_frame(decode_server(_as_bytes(data)))
            except ConnectionClosed:
                pass
            code = ws.close_code if ws.close_code is not None else 1006
            lost = ConnectionLost(code, ws.close_reason or "")
            self._ws = None
            self._fail_pending(lost)
            if self._leaving or not self.auto_resume or code not in RESUMABLE:
                self._finish(lost)
                return
            self._emit(Event("connection.lost", {"code": code, "reason": lost.reason}))
            try:
                await self._reconnect()
            except ClientError as exc:
                self._finish(
                    exc if isinstance(exc, ConnectionLost) else ConnectionLost(code, str(exc))
                )
                return
            for hook in self._resume_hooks:
                result = hook()
                if asyncio.iscoroutine(result):
                    self._spawn(result)

    async def _reconnect(self) -> None:
        deadline = time.monotonic() + self.resume_for
        delays = itertools.chain(self.reconnect_delays, itertools.repeat(self.reconnect_delays[-1]))
        last: Exception | None = None
        for delay in delays:
            if time.monotonic() + delay > deadline or self._leaving:
                break
            await asyncio.sleep(delay)
            try:
                await self._open(resume=self.last_seq)
                if self._leaving and self._ws is not None:
                    await self._ws.close()  # close() was called meanwhile
                return
            except JoinRefused as exc:
                if exc.status not in RETRY_STATUSES and exc.status != 0:
                    raise
                last = exc
            except (OSError, TimeoutError, ConnectionLost) as exc:
                last = exc
        raise ConnectionLost(None, f"could not resume: {last!r}")

    async def _on_frame(self, frame: Wire) -> None:
        type_ = str(frame.get("type"))
        if type_ == "reply" or type_ == "error":
            id_ = frame.get("id")
            pending = self._pending.get(id_) if isinstance(id_, int) else None
            if type_ == "reply":
                if pending is not None and not pending[1].done():
                    pending[1].set_result(dict(frame.get("body") or {}))
                return
            error = ServerError(
                parse_code(frame.get("code")),
                str(frame.get("message", "")),
                None if pending is None else pending[0],
            )
            if pending is not None and not pending[1].done():
                pending[1].set_exception(error)
            else:
                self._emit(Event("error", {"code": str(error.code), "message": error.message}))
            return
        seq = frame.get("seq")
        if type_ == "welcome":  # not expected mid-stream; treat as a fresh snapshot
            snap = (frame.get("body") or {}).get("snapshot")
            if snap is not None:
                self.state.load_snapshot(snap)
            return
        event = Event(type_, dict(frame.get("body") or {}), seq if isinstance(seq, int) else None)
        if event.seq is not None:
            if event.seq <= self.last_seq:
                return  # already seen (a replay overlapping what we had)
            self.last_seq = event.seq
        self.state.apply(event)
        self._emit(event)
        await self._notify()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _emit(self, event: Event | None) -> None:
        for queue in self._subscribers:
            queue.put_nowait(event)

    async def _notify(self) -> None:
        self.version += 1
        async with self._changed:
            self._changed.notify_all()

    def _fail_pending(self, error: ClientError) -> None:
        for _, fut in self._pending.values():
            if not fut.done():
                fut.set_exception(error)
        self._pending.clear()

    def _finish(self, lost: ConnectionLost) -> None:
        if self.closed is not None:
            return
        self.closed = lost
        self._fail_pending(lost)
        self._emit(Event("connection.closed", {"code": lost.code, "reason": lost.reason}))
        self._emit(None)
        # Wake wait_until() callers so they see `closed`.
        self._spawn(self._notify())


def _given(**fields: Any) -> Wire:
    """Only the fields that were given: an absent optional field means "the default"."""
    return {k: v for k, v in fields.items() if v is not None}


def _as_bytes(data: str | bytes) -> bytes:
    if isinstance(data, str):
        raise ClientError("server sent a text frame")
    return data
