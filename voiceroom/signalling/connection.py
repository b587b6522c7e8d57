"""One client connection: direct writes while the socket keeps up, else a bounded outbox
drained by the connection's writer task.

The room task never awaits a socket: it appends encoded frames to each receiver's outbox
and moves on, so one slow client cannot stall the room. A client whose outbox overflows
(``send_queue`` frames or ``send_queue_bytes`` bytes, whichever comes first) is closed
(4002) and may reconnect and resume. The byte bound keeps what a non-reading client pins
in memory small even when events are large, and keeps the close frame close enough behind
the data for the client to read it before the server gives up (``CLOSE_TIMEOUT``).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections import deque
from typing import Any

from websockets.asyncio.server import ServerConnection, broadcast
from websockets.exceptions import ConnectionClosed

from voiceroom.auth import Claims
from voiceroom.protocol import CloseCode
from voiceroom.signalling.ratelimit import TokenBucket

DIRECT_WRITE_LIMIT = 64 * 1024  # bytes buffered in the socket before frames wait in the outbox
CLOSE_TIMEOUT = 2.0  # seconds a closing handshake may take before the socket is dropped
# A fixed kernel send buffer per client (Linux doubles it): without it TCP autotuning lets
# one non-reading client pin megabytes in the kernel before the outbox bound is reached.
SOCKET_SEND_BUFFER = 128 * 1024


class Connection:
    """A client as the room sees it. ``detached`` means: leaving this connection must not
    mark the member disconnected (it was replaced, kicked, or left on purpose)."""

    def __init__(
        self,
        ws: ServerConnection,
        *,
        conn_id: str,
        claims: Claims,
        bucket: TokenBucket,
        outbox_limit: int,
        outbox_bytes: int = 2 * 1024 * 1024,
        log: Any,
    ) -> None:
        self.ws = ws
        self.id = conn_id
        self.claims = claims
        self.user = claims.user
        self.room_id = claims.room
        self.bucket = bucket
        self.log = log
        self.opened_at = time.monotonic()  # for the join-time histogram
        self.detached = False
        # The client's address and whether it reached us (or the first trusted proxy) over
        # TLS; set by the gateway from the socket and trusted X-Forwarded-* headers.
        self.address: str | None = None
        self.secure = False
        self.closing = False
        self.close_code: CloseCode | None = None
        self.on_slow: list[Any] = []  # callbacks (metrics) when closed for being slow
        self._limit = outbox_limit
        self._byte_limit = outbox_bytes
        self._out_bytes = 0  # sum of len() of the frames in _out
        # Forced frames (a big welcome, a replay) extend the byte bound until the outbox
        # drains: they are sent once and must not get their receiver dropped.
        self._forced_bytes = 0
        self._transport = ws.transport
        sock = ws.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_SEND_BUFFER)
        self._out: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._close_reason = ""
        self._closer: asyncio.Task[None] | None = None
        self.writer = asyncio.create_task(self._write(), name=f"writer-{conn_id}")

    def send(self, frame: bytes, *, force: bool = False) -> bool:
        """Queue a frame. ``force`` bypasses the bound (welcome and replay, sent once)."""
        if self.closing:
            return False
        if not force and (
            len(self._out) >= self._limit
            or self._out_bytes + len(frame) > self._byte_limit + self._forced_bytes
        ):
            self.log.warning("slow consumer closed", queued=len(self._out), bytes=self._out_bytes)
            for fn in self.on_slow:
                fn()
            self._out.clear()
            self._out_bytes = 0
            self.close(CloseCode.SLOW_CONSUMER, "too slow: reconnect and resume", flush=False)
            return False
        if not self._out and self._transport.get_write_buffer_size() < DIRECT_WRITE_LIMIT:
            # Fast path: nothing queued and the socket keeps up, so write now instead of
            # waking a writer task per receiver (1,000 receivers = 1,000 task switches).
            # Order holds: anything the writer already took is in the transport buffer.
            broadcast((self.ws,), frame)
            return True
        self._out.append(frame)
        self._out_bytes += len(frame)
        if force:
            self._forced_bytes += len(frame)
        self._wake.set()
        return True

    def close(self, code: CloseCode, reason: str, *, flush: bool = True) -> None:
        """Close after the queued frames went out (``flush``), or at once."""
        if self.closing:
            return
        self.closing = True
        self.close_code = code
        self._close_reason = reason
        if flush:
            self._wake.set()
        else:
            # The writer may be blocked on a full socket buffer: close from outside it.
            self._out.clear()
            self._out_bytes = 0
            self._closer = asyncio.create_task(self._close_now(code, reason))

    async def _close_now(self, code: CloseCode, reason: str) -> None:
        # ws.close() first drains the socket, which a client that stopped reading never
        # lets happen: give it a moment, then drop the TCP connection.
        try:
            await asyncio.wait_for(self.ws.close(code, reason), CLOSE_TIMEOUT)
        except TimeoutError:
            self.ws.transport.abort()

    @property
    def queued(self) -> int:
        return len(self._out)

    async def _write(self) -> None:
        ws = self.ws
        out = self._out
        try:
            while True:
                while out:
                    frame = out.popleft()
                    self._out_bytes -= len(frame)
                    await ws.send(frame)
                self._forced_bytes = 0  # drained: forced frames are on the wire
                if self.closing:
                    await self._close_now(self.close_code or CloseCode.NORMAL, self._close_reason)
                    return
                self._wake.clear()
                await self._wake.wait()
        except ConnectionClosed:
            pass

    def finish(self) -> None:
        """The socket is gone: let the writer drain what it can and exit."""
        if not self.closing:
            self.closing = True
            self.close_code = CloseCode.NORMAL
        self._wake.set()

    async def stop(self) -> None:
        self.closing = True
        self.writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.writer
