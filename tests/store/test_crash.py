"""Crash test: a real ``voiceroom serve`` subprocess on a real store, real WebSocket
clients, killed with SIGKILL at random moments and restarted on the same store.

The world: room "show" in the show phase (ann on a seat, bob in the speaker queue, carl in
a private call with agent sara) and room "warm" still in warm-up, while three senders post
chat as fast as replies come back. Each trial: start the server, every client resumes
(``resume=<last seq seen>``), the state is checked, chat flows, and after a random 0.1-0.7 s
the server is SIGKILLed. A last trial stops it with SIGTERM instead (close 1012).

Checked: every chat message that got an "ok" is in the store exactly once (and nothing
unacknowledged is invented); both rooms come back in their phase; ann's seat, bob's queue
place and carl's call survive every restart; no client ever saw a seq the restarted server
does not have (nothing was shown before its commit). Figures are printed (run with -s).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.signalling.vr_client import Client
from voiceroom.auth import issue_token
from voiceroom.store import open_store

pytestmark = pytest.mark.slow

SECRET = "crash-test-secret-0123456789abcdefgh"
TRIALS = int(os.environ.get("VOICEROOM_CRASH_TRIALS", "20"))
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProc:
    def __init__(self, store_url: str, data_dir: Path) -> None:
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "VOICEROOM_SECRET": SECRET,
            "VOICEROOM_STORE": store_url,
            "VOICEROOM_DATA_DIR": str(data_dir),
            "VOICEROOM_LOG_LEVEL": "warning",
            "VOICEROOM_RATE": "100000",
            "VOICEROOM_BURST": "100000",
            "VOICEROOM_SNAPSHOT_EVERY": "25",
            "VOICEROOM_ROOM_RECONNECT_GRACE": "120",
            "VOICEROOM_ROOM_CHAT_HISTORY": "20",
        }
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0

    async def start(self) -> float:
        """Spawn and wait for /healthz; returns seconds from spawn to ready."""
        self.port = free_port()
        started = time.perf_counter()
        self.proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "voiceroom", "serve", "--no-media", "--port", str(self.port)),
            env=self.env,
            cwd=str(ROOT),
            stdout=subprocess.DEVNULL,
            # serve runs a front and a worker per core: a crash takes them all (killpg).
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{self.port}/healthz"
        while True:
            try:
                await asyncio.to_thread(urllib.request.urlopen, url, None, 1)
                return time.perf_counter() - started
            except OSError:
                if self.proc.returncode is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}") from None
                if time.perf_counter() - started > 60:
                    raise RuntimeError("server did not come up") from None
                await asyncio.sleep(0.05)

    def kill(self, sig: int) -> None:
        """SIGKILL: the whole server (front and workers) dies at once, as in a crash; SIGTERM
        goes to the front, which stops its workers."""
        assert self.proc is not None
        if sig == signal.SIGKILL:
            os.killpg(self.proc.pid, sig)
        else:
            self.proc.send_signal(sig)

    async def wait(self) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), 30)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            await self.proc.wait()


PEOPLE: dict[str, tuple[str, str]] = {  # user -> (role, room)
    "host": ("host", "show"),
    "ann": ("listener", "show"),
    "bob": ("listener", "show"),
    "carl": ("listener", "show"),
    "sara": ("agent", "show"),
    "wendy": ("host", "warm"),
}


class World:
    def __init__(self, server: ServerProc) -> None:
        self.server = server
        self.last: dict[str, int] = {}  # user -> last seq seen (resume point)
        self.clients: dict[str, Client] = {}
        self.acked: list[str] = []
        self.attempted: set[str] = {"warm-up starts"}
        self.sent = 0

    async def connect(self, user: str, *, resume: bool) -> Client:
        role, room = PEOPLE[user]
        token = issue_token(SECRET, room=room, user=user, name=user.title(), role=role)
        url = f"ws://127.0.0.1:{self.server.port}/ws?token={token}"
        if resume and user in self.last:
            url += f"&resume={self.last[user]}"
        client = await Client.open(url)
        self.clients[user] = client
        return client

    def remember(self) -> None:
        for user, client in self.clients.items():
            self.last[user] = max(self.last.get(user, 0), client.last_seq, welcome_seq(client))

    async def chatter(self, user: str, tag: str, stop: asyncio.Event) -> None:
        client = self.clients[user]
        k = 0
        while not stop.is_set():
            text = f"{tag}-{user}-{k}"
            k += 1
            self.sent += 1
            self.attempted.add(text)
            try:
                frame = await client.request("chat.send", {"text": text})
            except (AssertionError, TimeoutError, Exception):
                return  # the server died under us: this one was not acknowledged
            if frame["type"] == "reply":
                self.acked.append(text)


def welcome_seq(client: Client) -> int:
    seq = client.welcome.get("seq")
    return int(seq) if isinstance(seq, int) else 0


async def setup_world(w: World) -> None:
    host = await w.connect("host", resume=False)
    for user in ("ann", "bob", "carl", "sara", "wendy"):
        await w.connect(user, resume=False)
    await w.clients["wendy"].ok("chat.send", {"text": "warm-up starts"})
    w.acked.append("warm-up starts")
    await host.ok("room.start_show")
    await w.clients["ann"].ok("queue.join")
    await host.ok("queue.promote", {"user": "ann"})
    await w.clients["bob"].ok("queue.join")
    await w.clients["carl"].ok("consult.request", {"note": "size?"})
    await w.clients["sara"].ok("consult.accept", {"user": None})


async def check_world(w: World) -> dict[str, Any]:
    """After a restart: everyone resumes; the state is what it was."""
    for user in PEOPLE:
        c = await w.connect(user, resume=True)
        # Nothing a client saw was lost: the restarted room's seq is at least as far.
        assert welcome_seq(c) >= w.last.get(user, 0), (user, welcome_seq(c), w.last.get(user))
        assert c.welcome["body"]["resumed"] is True, user
    snaps = {u: (await c.ok("sync"))["body"]["snapshot"] for u, c in w.clients.items()}
    assert snaps["host"]["phase"] == "show" and snaps["wendy"]["phase"] == "warmup"
    assert snaps["ann"]["your_seat"] is not None
    assert snaps["bob"]["your_queue_position"] == 1
    assert [k["shopper"] for k in snaps["sara"]["consultations"]] == ["carl"]
    return snaps


async def run_crash_test(store_url: str, tmp_path: Path, trials: int) -> dict[str, Any]:
    server = ServerProc(store_url, tmp_path)
    w = World(server)
    rng = random.Random(os.environ.get("VOICEROOM_CRASH_SEED", "8"))
    ready: list[float] = []
    seat = None
    try:
        await server.start()
        await setup_world(w)
        for trial in range(trials + 1):
            graceful = trial == trials
            if trial:
                ready.append(await server.start())
                snaps = await check_world(w)
                assert snaps["ann"]["your_seat"] == seat
            else:
                seat = (await w.clients["ann"].ok("sync"))["body"]["snapshot"]["your_seat"]
            stop = asyncio.Event()
            tasks = [
                asyncio.create_task(w.chatter(u, f"t{trial}.{j}", stop))
                for u in ("ann", "bob", "wendy")
                for j in range(2)
            ]
            await asyncio.sleep(rng.uniform(0.1, 0.7))
            w.remember()
            if graceful:
                stop.set()
                await asyncio.gather(*tasks)
                w.remember()
                server.kill(signal.SIGTERM)
                code, _ = await w.clients["ann"].closed()
                assert code == 1012
                assert await server.wait() == 0
            else:
                server.kill(signal.SIGKILL)
                await server.wait()
                stop.set()
                await asyncio.gather(*tasks)
            for client in w.clients.values():
                with contextlib.suppress(Exception):
                    await client.drop()
            w.remember()
        # The last restart (after SIGTERM) must hold everything, too.
        ready.append(await server.start())
        await check_world(w)
        for client in w.clients.values():
            await client.close()
        server.kill(signal.SIGTERM)
        await server.wait()
    finally:
        await server.stop()
    store = open_store(store_url, tmp_path)
    try:
        texts = [
            m.text
            for room in ("show", "warm")
            for m in store.chat(room, limit=1_000_000)
            if m.kind == "user"
        ]
    finally:
        store.close()
    counts = Counter(texts)
    lost = [t for t in w.acked if counts[t] == 0]
    duplicated = [t for t, n in counts.items() if n > 1]
    figures = {
        "store": store_url.split(":", 1)[0],
        "trials": trials,
        "kills": trials,
        "graceful": 1,
        "sent": w.sent,
        "acked": len(w.acked),
        "stored": len(texts),
        "lost": len(lost),
        "duplicated": len(duplicated),
        "restart_to_ready_s_median": round(statistics.median(ready), 3),
        "restart_to_ready_s_max": round(max(ready), 3),
    }
    print("\ncrash test:", figures)
    assert not lost, lost[:5]
    assert not duplicated, duplicated[:5]
    # Nothing that was never sent shows up either.
    assert set(texts) <= w.attempted
    return figures


async def test_sigkill_at_random_moments_loses_nothing_acknowledged_sqlite(tmp_path: Path) -> None:
    await run_crash_test(f"sqlite:///{tmp_path / 'crash.db'}", tmp_path, TRIALS)


async def test_sigkill_at_random_moments_loses_nothing_acknowledged_postgresql(
    pg_schema_url: str, tmp_path: Path
) -> None:
    await run_crash_test(pg_schema_url, tmp_path, max(3, TRIALS // 6))
