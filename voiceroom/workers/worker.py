"""One worker process of ``voiceroom serve --workers N``.

Started by the supervisor as ``python -m voiceroom.workers.worker --fd N`` with one end of
its control channel; the first message carries the settings and its ``WorkerSlot``. It runs
an ordinary ``Server`` (rooms, media plane, store writes, API) that listens on no public
port: client sockets arrive over the channel and are adopted. It tells the front when a room
opens, closes or ends, and sends a heartbeat (its rooms and load) every second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pickle
import signal
import socket
import sys
from typing import Any

from voiceroom.config import Config, ConfigError
from voiceroom.observability import configure_logging, get_logger
from voiceroom.protocol import CloseCode
from voiceroom.server import Server, WorkerSlot
from voiceroom.workers.channel import Channel

HEARTBEAT = 1.0  # seconds between heartbeats


class Worker:
    def __init__(self, config: Config, slot: WorkerSlot, chan: socket.socket) -> None:
        self.server = Server(config, slot=slot)
        self.slot = slot
        self.log = get_logger(worker=slot.index)
        self.chan = Channel(chan, self._message, self._front_gone)
        self.stop: asyncio.Future[CloseCode] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.stop = loop.create_future()
        self.chan.start()
        self.server.registry.watchers.append(self._room_event)
        await self.server.start()
        await self.chan.send({"t": "ready", "pid": os.getpid(), **self._load()})
        # SIGINT from a terminal reaches the whole process group and is ignored here: the
        # front says when to stop (a "stop" message), so it never restarts a worker that
        # was meant to stop. SIGTERM (someone else's) stops the worker as for one server.
        loop.add_signal_handler(signal.SIGTERM, self._request_stop, CloseCode.SERVICE_RESTART)
        beat = asyncio.create_task(self._heartbeat(), name="heartbeat")
        code = await self.stop
        beat.cancel()
        await self.server.shutdown(code)

    def _request_stop(self, code: CloseCode) -> None:
        if self.stop is not None and not self.stop.done():
            self.stop.set_result(code)

    def _front_gone(self) -> None:
        # The front exited (or was killed): nobody can reach this worker any more.
        self._request_stop(CloseCode.SERVICE_RESTART)

    def _load(self) -> dict[str, Any]:
        rooms = self.server.registry.rooms
        late = 0
        for host in rooms.values():
            if host.media is not None:
                late += int(host.media.stats().get("late_ticks", 0))
        return {"rooms": {rid: len(h.room.members) for rid, h in rooms.items()}, "late": late}

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            await self.chan.send({"t": "beat", **self._load()})

    def _room_event(self, room: str, event: str) -> None:
        self._spawn(self.chan.send({"t": "room", "id": room, "event": event}))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("worker task failed", error=repr(task.exception()))

    # ------------------------------------------------------------------ from the front
    def _message(self, msg: dict[str, Any], fds: list[int]) -> None:
        kind = msg.get("t")
        if kind == "conn" and fds:
            sock = socket.socket(fileno=fds[0])
            for extra in fds[1:]:
                os.close(extra)
            self._spawn(self._adopt(sock))
        elif kind == "metrics":
            text = self.server.metrics.render()
            self._spawn(self.chan.send_text("metrics", int(msg["id"]), text))
        elif kind == "elsewhere":
            self.server.registry.elsewhere(str(msg["id"]), str(msg["event"]))
            self._spawn(self.server.api.refresh_record(str(msg["id"])))
        elif kind == "demo":
            self._spawn(self._demo(int(msg["id"])))
        elif kind == "stop":
            self._request_stop(CloseCode(int(msg["code"])))
        elif kind == "webhooks":
            self._spawn(self.server.api.webhooks.reload())
        else:
            for fd in fds:
                os.close(fd)

    async def _adopt(self, sock: socket.socket) -> None:
        try:
            await self.server.adopt(sock)
        except OSError:
            sock.close()  # the client went away between the front and here

    async def _demo(self, request: int) -> None:
        try:
            await self.server.open_demo_room()
            await self.chan.send({"t": "demo", "id": request, "ok": True})
        except Exception as exc:
            self.log.exception("demo room failed")
            await self.chan.send({"t": "demo", "id": request, "ok": False, "error": str(exc)})


async def _main(fd: int) -> None:
    sock = socket.socket(fileno=fd)
    sock.setblocking(False)
    # The first message: the settings and the slot (pickled by the parent, over a private
    # socketpair it created: nothing else can write to it).
    data = await asyncio.get_running_loop().sock_recv(sock, 1 << 20)
    if not data:
        return  # a spare the front no longer needs
    config, slot = pickle.loads(data)
    configure_logging(config.log_level, json=config.log_json)
    await Worker(config, slot, sock).run()


def main() -> None:
    parser = argparse.ArgumentParser(description="a voiceroom worker (started by serve)")
    parser.add_argument("--fd", type=int, required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # see Worker.run
    try:
        asyncio.run(_main(args.fd))
    except ConfigError as exc:  # one line, as `voiceroom serve` prints it; the front stops
        print(f"voiceroom: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
