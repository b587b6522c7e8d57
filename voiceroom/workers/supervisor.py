"""Spawn the worker processes, talk to them, restart the ones that die (uvicorn's
``Multiprocess`` shape, with the room registry beside it).

A worker that exits while the server is not stopping is marked down in the registry (its
rooms keep their leases), started again with those rooms to recover from the store, and the
connections that arrive for them meanwhile wait for it (up to ``handshake_timeout``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import pickle
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import voiceroom
from voiceroom.config import Config
from voiceroom.observability import Metrics, get_logger
from voiceroom.protocol import CloseCode
from voiceroom.registry import RoomRegistry, WorkerInfo, WorkerState
from voiceroom.server import WorkerSlot
from voiceroom.workers.channel import Channel, ChannelClosed

SILENT_AFTER = 10.0  # seconds without a heartbeat: the worker is hung; kill and restart it
RESTART_PAUSE = 1.0  # after a worker that dies within RESTART_PAUSE * 5 of its start
# The worker imports this very package, wherever it was imported from here.
PACKAGE_ROOT = str(Path(voiceroom.__file__).resolve().parent.parent)


class WorkerUnavailable(RuntimeError):
    pass


class WorkerStartFailed(WorkerUnavailable):
    """A worker exited before the server was up: the start ends at once (what made it exit
    would make its replacement exit too). ``code``: its exit code (2: a configuration
    error, which the worker printed)."""

    def __init__(self, index: int, code: int | None) -> None:
        super().__init__(f"worker {index} exited during start-up (exit code {code})")
        self.index = index
        self.code = code


@dataclass
class WorkerHandle:
    index: int
    info: WorkerInfo
    proc: asyncio.subprocess.Process | None = None
    chan: Channel | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    started: float = 0.0
    waiting: dict[int, asyncio.Future[Any]] = field(default_factory=dict)
    parts: dict[int, list[str]] = field(default_factory=dict)
    watch: asyncio.Task[None] | None = None


class Supervisor:
    def __init__(
        self,
        config: Config,
        count: int,
        registry: RoomRegistry,
        socket_dir: Path,
        metrics: Metrics,
    ) -> None:
        self.config = config
        self.count = count
        self.registry = registry
        self.socket_dir = socket_dir
        self.metrics = metrics
        self.public_port = 0
        self.handles: list[WorkerHandle] = []
        self.closing = False
        self.log = get_logger(component="workers")
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._watchdog: asyncio.Task[None] | None = None
        # One process kept imported and idle, so that a dead worker is replaced in the time
        # its rooms take to recover rather than the seconds an interpreter takes to start.
        self.spare = True
        self._spare: tuple[asyncio.subprocess.Process, socket.socket] | None = None
        self._spare_task: asyncio.Task[None] | None = None
        self._started = False
        self._start_failed: asyncio.Future[WorkerStartFailed] | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self, public_port: int, plan: dict[int, set[str]], wait: float) -> None:
        """Spawn every worker (``plan``: the rooms each recovers) and wait until all are
        ready. A worker that exits meanwhile ends the start (``WorkerStartFailed``)."""
        self.public_port = public_port
        failed = self._start_failed = asyncio.get_running_loop().create_future()
        for index in range(self.count):
            info = await self.registry.add_worker(index, None)
            handle = WorkerHandle(index, info)
            self.handles.append(handle)
            await self._spawn(handle, plan.get(index, set()))
        ready = asyncio.ensure_future(asyncio.gather(*(h.ready.wait() for h in self.handles)))
        try:
            await asyncio.wait({ready, failed}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not ready.done():
                ready.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ready
        if failed.done():
            raise failed.result()
        if ready.cancelled():
            raise WorkerUnavailable(f"workers not ready within {wait:.0f} s")
        self._watchdog = asyncio.create_task(self._watch_heartbeats(), name="worker-watchdog")
        self._started = True
        self._respare()

    def api_socket(self, index: int) -> Path:
        """Where worker ``index`` serves its HTTP API (the front's API proxy)."""
        return self.socket_dir / f"api-{index}.sock"

    def slot(self, index: int, recover: set[str]) -> WorkerSlot:
        return WorkerSlot(
            index=index,
            ws_socket=self.socket_dir / f"ws-{index}.sock",
            api_socket=self.api_socket(index),
            public_port=self.public_port,
            recover=frozenset(recover),
            deliver_webhooks=index == 0,
        )

    async def _process(self) -> tuple[asyncio.subprocess.Process, socket.socket]:
        """A worker process, importing its code; it waits for its settings and slot."""
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT, env.get("PYTHONPATH")]))
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "voiceroom.workers.worker",
            "--fd",
            str(child.fileno()),
            pass_fds=[child.fileno()],
            env=env,
        )
        child.close()
        return proc, parent

    async def _spawn(self, h: WorkerHandle, recover: set[str]) -> None:
        # A replacement takes the spare (imported already: a restart costs the rooms'
        # recovery, not the interpreter's start), and a new spare starts behind it.
        spare, self._spare = self._spare, None
        if spare is not None and spare[0].returncode is None:
            proc, parent = spare
        else:
            proc, parent = await self._process()
        # First message: settings and slot, pickled (a private socketpair to our own child).
        parent.send(pickle.dumps((self.config, self.slot(h.index, recover))))
        h.proc = proc
        h.started = time.monotonic()
        h.ready.clear()
        h.chan = Channel(parent, lambda msg, fds: self._message(h, msg, fds), lambda: None)
        h.chan.start()
        h.watch = asyncio.create_task(self._wait_exit(h, proc), name=f"worker-{h.index}")
        self.log.info("worker started", worker=h.index, pid=proc.pid, recover=len(recover))
        self._respare()

    def _respare(self) -> None:
        """Start a new spare (after start-up, so it does not slow the first workers)."""
        busy = self._spare_task is not None and not self._spare_task.done()
        if self.spare and self._started and not self.closing and not busy:
            self._spare_task = asyncio.create_task(self._make_spare(), name="worker-spare")

    async def _make_spare(self) -> None:
        if self._spare is None and not self.closing:
            self._spare = await self._process()

    async def _wait_exit(self, h: WorkerHandle, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        h.ready.clear()
        if h.chan is not None:
            h.chan.close()
        for fut in h.waiting.values():
            if not fut.done():
                fut.set_exception(WorkerUnavailable(f"worker {h.index} exited"))
        h.waiting.clear()
        if self.closing:
            return
        if not self._started:  # during start-up: no restart loop, the start fails
            failed = self._start_failed
            if failed is not None and not failed.done():
                failed.set_result(WorkerStartFailed(h.index, code))
            return
        rooms = await self.registry.down(h.info.id)
        self.metrics.inc("voiceroom_worker_restarts_total", worker=str(h.index))
        self.log.warning("worker exited; restarting", worker=h.index, code=code, rooms=len(rooms))
        if time.monotonic() - h.started < RESTART_PAUSE * 5:
            await asyncio.sleep(RESTART_PAUSE)  # a crash loop must not spin the machine
        if not self.closing:
            await self._spawn(h, set(rooms))

    async def _watch_heartbeats(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            for room in await self.registry.expire(now):
                self.log.info("room lease lapsed", room=room)
            for h in self.handles:
                info = h.info
                if info.state in (WorkerState.READY, WorkerState.DRAINING) and (
                    now - info.last_seen > SILENT_AFTER
                ):
                    self.log.error("worker silent; killing it", worker=h.index)
                    if h.proc is not None and h.proc.returncode is None:
                        h.proc.kill()

    async def stop(self, code: CloseCode, wait: float) -> None:
        """Every worker drains and shuts down with ``code``; the stragglers are killed."""
        self.closing = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._spare_task is not None:
            with contextlib.suppress(Exception):
                await self._spare_task
        if self._spare is not None:
            proc, parent = self._spare
            parent.close()  # the spare reads EOF and exits
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 5)
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            self._spare = None
        for h in self.handles:
            await self.registry.drain(h.info.id)
            if not h.ready.is_set() and h.proc is not None and h.proc.returncode is None:
                # Still starting (no rooms served yet): it would finish its start first.
                with contextlib.suppress(ProcessLookupError):
                    h.proc.terminate()
                continue
            if h.chan is not None:
                with contextlib.suppress(ChannelClosed):
                    await h.chan.send({"t": "stop", "code": int(code)})
        procs = [h.proc for h in self.handles if h.proc is not None]
        try:
            async with asyncio.timeout(wait):
                await asyncio.gather(*(p.wait() for p in procs))
        except TimeoutError:
            for p in procs:
                if p.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        p.send_signal(signal.SIGKILL)
            await asyncio.gather(*(p.wait() for p in procs))
        for h in self.handles:
            if h.watch is not None:
                await h.watch

    # ------------------------------------------------------------------ messages
    def _message(self, h: WorkerHandle, msg: dict[str, Any], fds: list[int]) -> None:
        for fd in fds:  # workers never send descriptors
            os.close(fd)
        kind = msg.get("t")
        now = time.monotonic()
        if kind == "ready":
            self._spawn_task(self._ready(h, msg, now))
        elif kind == "beat":
            self._spawn_task(self.registry.renew(h.info.id, msg["rooms"], int(msg["late"]), now))
        elif kind == "room":
            self._spawn_task(self._room(h, str(msg["id"]), str(msg["event"])))
        elif kind == "metrics":
            parts = h.parts.setdefault(int(msg["id"]), [])
            parts.append(str(msg["part"]))
            if msg["last"]:
                self._answer(h, int(msg["id"]), "".join(h.parts.pop(int(msg["id"]))))
        elif kind == "demo":
            self._answer(h, int(msg["id"]), msg)

    async def _ready(self, h: WorkerHandle, msg: dict[str, Any], now: float) -> None:
        await self.registry.up(h.info.id, int(msg["pid"]))
        await self.registry.renew(h.info.id, msg["rooms"], int(msg["late"]), now)
        h.ready.set()
        self.log.info("worker ready", worker=h.index, pid=msg["pid"], rooms=len(msg["rooms"]))

    async def _room(self, h: WorkerHandle, room: str, event: str) -> None:
        if event == "opened" and not await self.registry.confirm(room, h.info.id, time.monotonic()):
            # Cannot happen while the front is the only placer; if it does, say so loudly.
            self.log.error("room opened on a worker that does not hold its lease", room=room)
        if event in ("closed", "ended"):
            await self.registry.release(room, h.info.id)
        if event in ("opened", "ended"):
            for other in self.handles:
                if other is not h and other.chan is not None and other.ready.is_set():
                    with contextlib.suppress(ChannelClosed):
                        await other.chan.send({"t": "elsewhere", "id": room, "event": event})

    def _answer(self, h: WorkerHandle, request: int, value: Any) -> None:
        fut = h.waiting.pop(request, None)
        if fut is not None and not fut.done():
            fut.set_result(value)

    def _spawn_task(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ requests
    async def wait_ready(self, h: WorkerHandle, wait: float) -> None:
        if h.ready.is_set():
            return
        try:
            async with asyncio.timeout(wait):
                await h.ready.wait()
        except TimeoutError:
            raise WorkerUnavailable(f"worker {h.index} is not ready") from None

    async def hand_off(self, h: WorkerHandle, sock: socket.socket, wait: float) -> None:
        """Give ``sock`` (an accepted client) to worker ``h``; waits while it restarts."""
        await self.wait_ready(h, wait)
        assert h.chan is not None
        try:
            await h.chan.send({"t": "conn"}, [sock.fileno()])
        except ChannelClosed:
            raise WorkerUnavailable(f"worker {h.index} went away") from None

    async def request(self, h: WorkerHandle, msg: dict[str, Any], wait: float) -> Any:
        """Ask worker ``h`` something (``metrics``, ``demo``) and wait for its answer."""
        await self.wait_ready(h, wait)
        assert h.chan is not None
        request = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        h.waiting[request] = fut
        try:
            await h.chan.send({**msg, "id": request})
            async with asyncio.timeout(wait):
                return await fut
        except (ChannelClosed, TimeoutError):
            raise WorkerUnavailable(f"worker {h.index} did not answer") from None
        finally:
            h.waiting.pop(request, None)

    async def tell_all(self, msg: dict[str, Any]) -> None:
        for h in self.handles:
            if h.chan is not None and h.ready.is_set():
                with contextlib.suppress(ChannelClosed):
                    await h.chan.send(msg)

    def handle(self, worker_id: str) -> WorkerHandle:
        return next(h for h in self.handles if h.info.id == worker_id)
