"""The front of ``voiceroom serve --workers N`` (docs/adr/0006-workers.md).

One process owns the public ports and the room registry; N workers own the rooms. For each
accepted connection the front peeks at the HTTP request head (``MSG_PEEK``: nothing is
consumed), finds the room in its signed token, asks the registry which worker holds the
room (placing a new room on the least-loaded worker) and passes the socket to that worker
with ``SCM_RIGHTS``. From then on the worker owns the socket: WebSocket messages and media
never cross the front, so the per-message cost of routing is nil; a join pays one peek, a
token check and one ``sendmsg``. ``/healthz`` and ``/metrics`` are answered here and cover
every worker; the HTTP API port is a per-request proxy (``api_proxy``) to the room's worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import errno
import json
import os
import shutil
import socket
import tempfile
import time
from http import HTTPStatus
from pathlib import Path
from typing import Any

from voiceroom.config import Config
from voiceroom.observability import CONTENT_TYPE, FRONT_METRICS, Metrics, get_logger
from voiceroom.protocol import CloseCode
from voiceroom.registry import LocalRegistry, WorkerState
from voiceroom.server import (
    DEMO_ROOM,
    CannotListen,
    demo_links,
    raise_nofile_limit,
    run_until_signalled,
    with_secret,
)
from voiceroom.signalling.gateway import JOIN_CHECK_PATH
from voiceroom.store import open_store
from voiceroom.workers import metrics as merged_metrics
from voiceroom.workers.api_proxy import ApiProxy
from voiceroom.workers.routing import MAX_HEAD_BYTES, Route, head_complete, route
from voiceroom.workers.supervisor import Supervisor, WorkerHandle, WorkerUnavailable

START_TIMEOUT = 120.0  # seconds for every worker to be ready (imports, store recovery)
JSON = "application/json"
SPLIT_HEAD_POLL = 0.002  # a head split over several segments (rare): look again this soon


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class Front:
    def __init__(self, config: Config, count: int) -> None:
        self.ephemeral_secret = not config.secret
        self.config = config = with_secret(config)  # the workers get the same secret
        self.count = count
        self.log = get_logger(component="front")
        self.metrics = Metrics(FRONT_METRICS)
        self.registry = LocalRegistry()
        self.socket_dir = Path(tempfile.mkdtemp(prefix="voiceroom-"))
        self.workers = Supervisor(config, count, self.registry, self.socket_dir, self.metrics)
        self.api = ApiProxy(config, self)
        self._sock: socket.socket | None = None
        self._accept: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._spread = 0  # tie-break for ANY routes
        self.demo_links_expire_at = 0.0
        self.ready_seconds = 0.0
        self.closing = False

    @property
    def port(self) -> int:
        assert self._sock is not None, "front not started"
        return int(self._sock.getsockname()[1])

    @property
    def api_port(self) -> int | None:
        return self.api.port if self.config.api else None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        started = time.perf_counter()
        raise_nofile_limit()
        plan = await asyncio.to_thread(self._recovery_plan)
        host = self.config.host
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            sock = socket.create_server((host, self.config.port), family=family, backlog=1024)
        except OSError as exc:
            raise CannotListen(f"{host}:{self.config.port}", exc) from exc
        sock.setblocking(False)
        self._sock = sock
        try:
            await self.workers.start(self.port, plan, START_TIMEOUT)
            await self.api.start()
        except BaseException:  # a worker that could not start, or a signal: stop them all
            sock.close()
            await self.workers.stop(CloseCode.GOING_AWAY, 10.0)
            shutil.rmtree(self.socket_dir, ignore_errors=True)
            raise
        self._accept = asyncio.create_task(self._accept_loop(), name="front-accept")
        self.ready_seconds = time.perf_counter() - started
        self.log.info(
            "listening",
            host=host,
            port=self.port,
            workers=self.count,
            rooms_recovered=sum(len(rooms) for rooms in plan.values()),
            ready_seconds=round(self.ready_seconds, 3),
            api_port=self.api_port,
        )

    def _recovery_plan(self) -> dict[int, set[str]]:
        """Migrate the store once (before any worker reads it) and spread the rooms it was
        hosting over the workers."""
        store = open_store(self.config.store, self.config.data_dir)
        try:
            store.upgrade()
            hosted = [r.id for r in store.rooms() if r.comes_back]
        finally:
            store.close()
        plan: dict[int, set[str]] = {}
        for i, room in enumerate(sorted(hosted)):
            plan.setdefault(i % self.count, set()).add(room)
        return plan

    async def open_demo(self) -> dict[str, str]:
        placement = await self.registry.claim(DEMO_ROOM, time.monotonic())
        if placement is None:
            raise WorkerUnavailable("no worker is ready")
        h = self.workers.handle(placement.worker.id)
        answer = await self.workers.request(h, {"t": "demo"}, 60.0)
        if not answer.get("ok"):
            raise RuntimeError(f"demo room: {answer.get('error')}")
        links, self.demo_links_expire_at = demo_links(self.config, self.port)
        return links

    async def shutdown(self, code: CloseCode = CloseCode.GOING_AWAY) -> None:
        if self.closing:
            return
        self.closing = True
        self.workers.closing = True  # from now on a worker that exits is not restarted
        self.log.info("shutting down", code=int(code))
        if self._accept is not None:
            self._accept.cancel()
        if self._sock is not None:
            self._sock.close()
        await self.api.stop()
        await self.workers.stop(code, self.config.shutdown_timeout + 10.0)
        shutil.rmtree(self.socket_dir, ignore_errors=True)
        self.log.info("stopped")

    async def run(self, *, demo: bool = False, on_ready: Any = None) -> None:
        """Serve until SIGINT (close 1001) or SIGTERM (close 1012), as ``Server.run``."""
        await run_until_signalled(self, demo=demo, on_ready=on_ready)

    # ------------------------------------------------------------------ routing
    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._sock is not None
        while True:
            try:
                conn, _ = await loop.sock_accept(self._sock)
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE):
                    self.log.error("out of file descriptors; pausing accept")
                    await asyncio.sleep(0.1)
                    continue
                raise
            conn.setblocking(False)
            task = asyncio.create_task(self._route(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _route(self, conn: socket.socket) -> None:
        head = b""
        try:
            head = await self._peek(conn)
            started = time.perf_counter()  # the front's own work, not the client's pace
            if not head:
                self.metrics.inc("voiceroom_front_connections_total", route="refused")
                return
            target = route(
                head,
                secret=self.config.secret,
                ws_path=self.config.ws_path,
                join_check_path=JOIN_CHECK_PATH,
            )
            self.metrics.inc("voiceroom_front_connections_total", route=str(target.route))
            if target.route is Route.HEALTH:
                await self._answer(conn, head, *self._health())
            elif target.route is Route.METRICS:
                await self._answer(conn, head, HTTPStatus.OK, await self.render(), CONTENT_TYPE)
            else:
                h = await self._worker_for(target.room)
                await self.workers.hand_off(h, conn, self.config.handshake_timeout)
                self.metrics.observe("voiceroom_handoff_seconds", time.perf_counter() - started)
        except WorkerUnavailable as exc:
            self.log.warning("no worker for a connection", error=str(exc))
            with contextlib.suppress(OSError):
                if head.split(b"?")[0].endswith(JOIN_CHECK_PATH.encode()):
                    # The join check always answers 200 with its verdict (docs/protocol.md).
                    verdict = {
                        "ok": False,
                        "status": 503,
                        "code": "server_busy",
                        "message": "no worker is ready; try again shortly",
                        "retry": True,
                    }
                    await self._answer(conn, head, HTTPStatus.OK, json.dumps(verdict), JSON)
                else:
                    busy = HTTPStatus.SERVICE_UNAVAILABLE
                    await self._answer(conn, head, busy, "no worker ready\n")
        except OSError:
            pass  # the client went away
        finally:
            conn.close()  # the worker holds its own descriptor for the same socket

    async def _peek(self, conn: socket.socket) -> bytes:
        """The request head, left in the socket; b"" if the client says nothing in time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.handshake_timeout
        seen = 0
        while loop.time() < deadline:
            try:
                data = conn.recv(MAX_HEAD_BYTES, socket.MSG_PEEK)
            except BlockingIOError:
                data = None
            if data == b"":
                return b""  # closed before a request
            if data is not None and (head_complete(data) or len(data) >= MAX_HEAD_BYTES):
                return data
            if data is None or len(data) == seen:
                if data is None:
                    ready = loop.create_future()
                    loop.add_reader(conn.fileno(), ready.set_result, None)
                    try:
                        async with asyncio.timeout(max(0.0, deadline - loop.time())):
                            await ready
                    except TimeoutError:
                        return b""
                    finally:
                        loop.remove_reader(conn.fileno())
                else:  # readable already (peeked bytes stay): poll for the rest
                    await asyncio.sleep(SPLIT_HEAD_POLL)
            seen = len(data or b"")
        return b""

    async def _worker_for(self, room: str | None) -> WorkerHandle:
        if room is not None:
            placement = await self.registry.claim(room, time.monotonic())
            if placement is None:
                raise WorkerUnavailable("no worker is ready")
            return self.workers.handle(placement.worker.id)
        ready = [h for h in self.workers.handles if h.info.state is WorkerState.READY]
        if not ready:
            raise WorkerUnavailable("no worker is ready")
        self._spread += 1
        return min(ready, key=lambda h: (h.info.load, (h.index - self._spread) % len(ready)))

    async def _answer(
        self,
        conn: socket.socket,
        head: bytes,
        status: HTTPStatus,
        body: str,
        content_type: str = "text/plain; charset=utf-8",
    ) -> None:
        loop = asyncio.get_running_loop()
        if head:
            # Read what was peeked: closing a socket with unread bytes sends a reset that
            # can destroy the answer before the client reads it.
            with contextlib.suppress(BlockingIOError):
                conn.recv(len(head))
        data = body.encode()
        response = (
            f"HTTP/1.1 {status.value} {status.phrase}\r\n"
            f"Date: {email.utils.formatdate(usegmt=True)}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(data)}\r\n"
            "Cache-Control: no-cache\r\nConnection: close\r\nServer: voiceroom\r\n\r\n"
        ).encode() + data
        await loop.sock_sendall(conn, response)

    # ------------------------------------------------------------------ health, metrics
    def _health(self) -> tuple[HTTPStatus, str]:
        handles = self.workers.handles
        ready = [h for h in handles if h.info.state is WorkerState.READY]
        lines = [
            f"worker {h.index}: {h.info.state} pid {h.info.pid} rooms {len(h.info.rooms)}"
            for h in handles
        ]
        if self.closing:
            return HTTPStatus.SERVICE_UNAVAILABLE, "shutting down\n"
        if not ready:
            return HTTPStatus.SERVICE_UNAVAILABLE, "no worker ready\n" + "\n".join(lines) + "\n"
        first = "ok" if len(ready) == len(handles) else f"degraded {len(ready)}/{len(handles)}"
        return HTTPStatus.OK, first + "\n" + "\n".join(lines) + "\n"

    async def render(self) -> str:
        """The front's series and every ready worker's, labelled ``worker``."""
        infos = await self.registry.workers()
        for state in WorkerState:
            count = sum(1 for w in infos if w.state is state)
            self.metrics.set("voiceroom_workers", count, state=str(state))
        self.metrics.set("voiceroom_room_leases", len(await self.registry.leases()))
        parts: list[tuple[str | None, str]] = [(None, self.metrics.render())]
        for h in self.workers.handles:
            if not h.ready.is_set():
                continue
            with contextlib.suppress(WorkerUnavailable):
                parts.append((str(h.index), await self.workers.request(h, {"t": "metrics"}, 5.0)))
        return merged_metrics.merge(parts)
