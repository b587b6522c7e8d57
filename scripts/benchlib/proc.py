"""Process plumbing: per-process CPU from /proc, child processes with JSON-lines control.

CPU is read from ``/proc/<pid>/stat`` fields 14-15 (utime, stime; all threads of the
process, proc(5)) in clock ticks, so one reading is only good to 1/CLK_TCK (10 ms): measure
over windows of seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent.parent
ROOT = SCRIPTS.parent
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """user + system CPU seconds consumed so far by every thread of ``pid``."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may contain spaces; fields after it are space-separated.
    fields = raw[raw.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _CLK_TCK


def own_cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def raise_nofile() -> int:
    """Each peer connection holds UDP sockets (design §3): lift the soft fd limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def bench_address() -> str:
    """The address benchmark processes bind to: 127.0.0.1, or ``VOICEROOM_BENCH_ADDR`` when
    ``bench_janus.py`` runs them in network namespaces joined by a veth pair."""
    return os.environ.get("VOICEROOM_BENCH_ADDR", "127.0.0.1")


def loopback_only() -> None:
    """Make aioice gather host candidates on 127.0.0.1 only (it skips loopback by default):
    every benchmark byte stays on the loopback interface (or, with
    ``VOICEROOM_BENCH_ADDR``, on that one address inside a benchmark's namespace)."""
    import aioice.ice

    addr = bench_address()

    def addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [addr] if use_ipv4 else []

    aioice.ice.get_host_addresses = addresses


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(SCRIPTS), str(ROOT)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


class Child:
    """A ``python -m benchlib.<module>`` process driven by JSON lines on stdin/stdout.

    Every request gets exactly one JSON reply line; lines that are not JSON objects (stray
    library output) are skipped. ``close`` asks politely, then terminates, then kills.
    """

    def __init__(self, proc: asyncio.subprocess.Process, name: str) -> None:
        self.proc = proc
        self.name = name
        self._lock = asyncio.Lock()

    @classmethod
    async def start(
        cls,
        module: str,
        *args: str,
        name: str = "",
        prefix: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        cwd: str | None = None,
    ) -> Child:
        """``prefix``: e.g. ``("ip", "netns", "exec", ns)`` (it execs, so the pid stays
        the Python process's); ``env``: extra environment variables."""
        proc = await asyncio.create_subprocess_exec(
            *prefix,
            sys.executable,
            "-m",
            f"benchlib.{module}",
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,  # inherit: child tracebacks show up in the bench output
            env=child_env() | (env or {}),
            cwd=cwd or str(ROOT),
            limit=16 * 1024 * 1024,
        )
        return cls(proc, name or module)

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def read(self, wait: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.name}: no reply within {wait:.0f} s")
            line = await asyncio.wait_for(self.proc.stdout.readline(), left)
            if not line:
                raise ConnectionError(f"{self.name} exited (rc={self.proc.returncode})")
            with contextlib.suppress(ValueError):
                msg = json.loads(line)
                if isinstance(msg, dict):
                    if "error" in msg:
                        raise RuntimeError(f"{self.name}: {msg['error']}")
                    return msg

    async def request(self, op: str, wait: float = 30.0, **kw: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        async with self._lock:
            self.proc.stdin.write((json.dumps({"op": op, **kw}) + "\n").encode())
            await self.proc.stdin.drain()
            return await self.read(wait)

    async def close(self, wait: float = 10.0) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.request("quit", wait=wait), wait)
        for signal_it in (self.proc.terminate, self.proc.kill):
            if self.proc.returncode is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                signal_it()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 5.0)


async def serve_stdio(handler: Any, *, max_seconds: float) -> None:
    """Child side of :class:`Child`: answer JSON requests until ``quit``, EOF or the hard
    time limit (a child never outlives a crashed parent by more than ``max_seconds``)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=16 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    deadline = time.monotonic() + max_seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        try:
            line = await asyncio.wait_for(reader.readline(), left)
        except TimeoutError:
            return
        if not line:
            return
        req = json.loads(line)
        op = req.pop("op")
        if op == "quit":
            reply({"ok": True})
            return
        try:
            reply(await handler(op, req))
        except Exception as exc:  # reported to the parent, which decides
            reply({"error": f"{op}: {type(exc).__name__}: {exc}"})


def reply(msg: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()
