"""The control channel between the front and one worker: a ``SOCK_SEQPACKET`` socketpair.

Each message is one msgpack map (packet boundaries are kept by the socket type) and may carry
file descriptors (``SCM_RIGHTS``): that is how an accepted client socket moves to its room's
worker. A long answer (a worker's metrics) is split into ``PART`` sized pieces.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Sequence
from typing import Any

import msgpack

MAX_PACKET = 256 * 1024  # receive buffer per packet; senders stay under PART
PART = 32 * 1024  # characters: at most 128 KiB of UTF-8, under the socket buffer
MAX_FDS = 4

Handler = Callable[[dict[str, Any], list[int]], None]


class ChannelClosed(ConnectionError):
    pass


class Channel:
    def __init__(self, sock: socket.socket, on_message: Handler, on_close: Callable[[], None]):
        sock.setblocking(False)
        self.sock = sock
        self._on_message = on_message
        self._on_close = on_close
        self.closed = False

    def start(self) -> None:
        asyncio.get_running_loop().add_reader(self.sock.fileno(), self._readable)

    def _readable(self) -> None:
        while not self.closed:
            try:
                data, fds, _flags, _addr = socket.recv_fds(self.sock, MAX_PACKET, MAX_FDS)
            except BlockingIOError:
                return
            except OSError:
                self.close()
                return
            if not data:
                self.close()
                return
            try:
                msg = msgpack.unpackb(data)
            except Exception:
                for fd in fds:  # never leak a descriptor we cannot use
                    socket.close(fd)
                continue
            self._on_message(msg, fds)

    async def send(self, msg: dict[str, Any], fds: Sequence[int] = ()) -> None:
        """Send one message; waits (does not drop) while the peer's buffer is full."""
        data = msgpack.packb(msg)
        loop = asyncio.get_running_loop()
        while True:
            if self.closed:
                raise ChannelClosed("worker channel closed")
            try:
                if fds:
                    socket.send_fds(self.sock, [data], list(fds))
                else:
                    self.sock.send(data)
                return
            except BlockingIOError:
                ready = loop.create_future()
                loop.add_writer(self.sock.fileno(), ready.set_result, None)
                try:
                    await ready
                finally:
                    loop.remove_writer(self.sock.fileno())
            except OSError as exc:
                self.close()
                raise ChannelClosed(str(exc)) from None

    async def send_text(self, kind: str, request: int, text: str) -> None:
        """A long text in parts: ``{"t": kind, "id": request, "part": str, "last": bool}``."""
        parts = [text[i : i + PART] for i in range(0, len(text), PART)] or [""]
        for i, part in enumerate(parts):
            await self.send({"t": kind, "id": request, "part": part, "last": i == len(parts) - 1})

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(RuntimeError, ValueError):  # no loop / closed already
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self.sock.close()
        self._on_close()
