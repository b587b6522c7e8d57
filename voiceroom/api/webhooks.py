"""Webhook delivery per Standard Webhooks (https://www.standardwebhooks.com/).

Each message is a POST of JSON ``{"type", "timestamp", "data"}`` with the headers
``webhook-id`` (the same on every retry: receivers deduplicate on it), ``webhook-timestamp``
(epoch seconds of this attempt) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256 of
"id.timestamp.body">`` under the endpoint's ``whsec_`` secret), signed by the
``standardwebhooks`` package.

Flow: :class:`~voiceroom.api.events.EventFeed` (inside room jobs) → :meth:`WebhookService.
__call__` picks the endpoints whose filters match and adds one outbox row per endpoint
(memory only) → the writer task flushes the outbox (durable) → one delivery task per
endpoint sends its oldest pending row, and only then the next, so each endpoint sees its
messages in order. A failure (non-2xx, timeout, refused connection) retries the same row
after an exponential backoff with jitter; after ``retry_for`` seconds (24 h by default) the
row is dead-lettered and the endpoint moves on. Nothing here runs inside a room job or the
media tick: delivery is its own tasks and an ``httpx.AsyncClient``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import random
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from standardwebhooks import Webhook

from voiceroom.api.events import OPT_IN, WEBHOOK_TYPES, ShopEvent
from voiceroom.api.outbox import Delivery, NewMessage, Outbox, State
from voiceroom.observability import Metrics, get_logger

BACKOFF_CAP = 3600.0  # no single wait is longer than an hour
MAX_ERROR_CHARS = 300


class WebhookConfigError(ValueError):
    """A bad endpoint definition (config or API)."""


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    url: str
    secret: str
    events: tuple[str, ...] = ("*",)

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 64:
            raise WebhookConfigError("endpoint name must be 1..64 characters")
        try:
            parts = urlsplit(self.url)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname)
            ok = ok and not any(ch.isspace() or ord(ch) < 32 for ch in self.url)
            httpx.URL(self.url)  # what the sender will parse
        except (ValueError, httpx.InvalidURL):
            ok = False
        if not ok:
            raise WebhookConfigError(f"endpoint {self.name}: url must be http(s)://host/...")
        try:
            Webhook(self.secret)
        except Exception:
            raise WebhookConfigError(
                f"endpoint {self.name}: secret must be whsec_ + base64"
            ) from None
        for pattern in self.events:
            if not valid_filter(pattern):
                raise WebhookConfigError(f"endpoint {self.name}: unknown event filter {pattern!r}")

    def wants(self, type_: str) -> bool:
        """Exact names, ``*`` and ``family.*``; opt-in types only by exact name."""
        for pattern in self.events:
            if pattern == type_:
                return True
            if type_ in OPT_IN:
                continue
            if pattern == "*" or (pattern.endswith(".*") and type_.startswith(pattern[:-1])):
                return True
        return False

    @staticmethod
    def from_config(name: str, spec: Mapping[str, Any]) -> Endpoint:
        if not isinstance(spec, Mapping) or not isinstance(spec.get("url"), str):
            raise WebhookConfigError(f"webhooks.{name}: needs url (and secret, events)")
        events = spec.get("events", ["*"])
        if isinstance(events, str):
            events = [e.strip() for e in events.split(",") if e.strip()]
        return Endpoint(name, spec["url"], str(spec.get("secret", "")), tuple(events))


def valid_filter(pattern: str) -> bool:
    families = {t.split(".")[0] for t in WEBHOOK_TYPES}
    return (
        pattern == "*"
        or pattern in WEBHOOK_TYPES
        or (pattern.endswith(".*") and pattern[:-2] in families)
    )


def backoff(attempts: int, base: float, rng: random.Random) -> float:
    """Seconds before retry number ``attempts`` (1 = the first retry): exponential with
    "equal jitter" (half fixed, half random), capped at :data:`BACKOFF_CAP`, so many
    failed endpoints do not retry in lock-step."""
    ceiling = min(BACKOFF_CAP, base * 2 ** min(attempts - 1, 40))
    return float(ceiling / 2 + rng.uniform(0, ceiling / 2))


def dead_now(row: Delivery) -> bool:
    return row.state is State.DEAD


def encode_body(event: ShopEvent) -> str:
    stamp = datetime.fromtimestamp(event.at, UTC).isoformat().replace("+00:00", "Z")
    return json.dumps(
        {"type": event.type, "timestamp": stamp, "data": event.data},
        separators=(",", ":"),
        ensure_ascii=False,
    )


def sign_headers(secret: str, msg_id: str, body: str, now: float) -> dict[str, str]:
    at = datetime.fromtimestamp(int(now), UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now)),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
        "content-type": "application/json",
        "user-agent": "voiceroom-webhooks/1",
    }


class WebhookService:
    """Endpoints, the outbox writer and one delivery task per endpoint."""

    def __init__(
        self,
        outbox: Outbox,
        endpoints: Iterable[Endpoint] = (),
        *,
        timeout: float = 10.0,
        retry_for: float = 24 * 3600.0,
        backoff_base: float = 1.0,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.outbox = outbox
        self.endpoints: dict[str, Endpoint] = {e.name: e for e in endpoints}
        self.timeout = timeout
        self.retry_for = retry_for
        self.backoff_base = backoff_base
        self.clock = clock
        self.rng = rng or random.Random()
        self.metrics = metrics
        self.log = get_logger(component="webhooks")
        self._dirty = asyncio.Event()
        self._wake: dict[str, asyncio.Event] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._writer: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self.sent = 0  # attempts that got a 2xx (for tests and metrics)
        self.failed = 0
        # False when the store's transaction hook writes the rows of journaled events
        # (store_outbox.OutboxHook): then only the API's own facts come through here.
        self.produce_journaled = True
        self._loop: asyncio.AbstractEventLoop | None = None
        # ``serve --workers N`` with a database outbox: every worker writes rows, one
        # delivers them (``deliver``), polling for the rows other workers wrote.
        self.deliver = True
        self.poll: float | None = None
        self._configured = set(self.endpoints)

    # ------------------------------------------------------------------ producing
    def __call__(self, events: Sequence[ShopEvent]) -> None:
        """EventFeed subscriber, inside a room job: memory appends only."""
        rows: list[NewMessage] = []
        for event in events:
            if event.seq is not None and not self.produce_journaled:
                continue
            targets = [e for e in self.endpoints.values() if e.wants(event.type)]
            if not targets:
                continue
            msg_id = "msg_" + secrets.token_hex(12)
            body = encode_body(event)
            rows.extend(NewMessage(msg_id, e.name, event.type, body, event.at) for e in targets)
        if rows:
            self.outbox.add(rows)
            self._dirty.set()
            if self.metrics is not None:
                self.metrics.inc("voiceroom_webhook_messages_total", len(rows))

    def wake_threadsafe(self) -> None:
        """Wake every sender from another thread (the store's writer, after it wrote rows)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake_all)

    def _wake_all(self) -> None:
        for wake in self._wake.values():
            wake.set()

    async def flush(self) -> None:
        """Make what was added durable and wake the senders (API calls await this so their
        "ok" follows the commit of the events they caused)."""
        await self.outbox.flush()
        for wake in self._wake.values():
            wake.set()

    # ------------------------------------------------------------------ endpoints
    async def save_endpoint(self, endpoint: Endpoint) -> None:
        """Add (or replace) an endpoint through the API: kept with the outbox, so a durable
        outbox delivers its rows after a restart."""
        e = endpoint
        old = self.endpoints.get(e.name)
        await self.outbox.save_endpoint(e.name, e.url, e.secret, e.events)
        if old is not None and (old.url, old.secret) != (e.url, e.secret):
            await self._retry_head_now(e.name)
        self.add_endpoint(endpoint)

    async def _retry_head_now(self, name: str) -> None:
        """An endpoint got a new URL or secret (typically: someone fixed a broken one).
        What waits for it is tried at once with a fresh backoff, not after the backoff the
        old address earned. Delivery is in order, so only the head has been tried."""
        row = await self.outbox.head(name)
        now = self.clock()
        if row is not None and row.next_at > now:
            await self.outbox.record(replace(row, attempts=0, next_at=now))

    def add_endpoint(self, endpoint: Endpoint) -> None:
        self.endpoints[endpoint.name] = endpoint
        if self._client is not None and endpoint.name not in self._tasks:
            self._spawn(endpoint.name)
        self._wake.get(endpoint.name, asyncio.Event()).set()

    async def remove_endpoint(self, name: str) -> bool:
        if self.endpoints.pop(name, None) is None:
            return False
        await self.outbox.delete_endpoint(name)
        task = self._tasks.pop(name, None)
        self._wake.pop(name, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # What it still had waiting is dead-lettered (visible, and redeliverable if the
        # endpoint comes back under the same name).
        while (row := await self.outbox.head(name)) is not None:
            await self.outbox.record(replace(row, state=State.DEAD, last_error="endpoint removed"))
        return True

    async def redeliver(self, msg_id: str) -> list[Delivery]:
        rows = await self.outbox.redeliver(msg_id, self.clock())
        for row in rows:
            wake = self._wake.get(row.endpoint)
            if wake is not None:
                wake.set()
        return rows

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        await self._load_saved()
        self._loop = asyncio.get_running_loop()
        self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
        self._writer = asyncio.create_task(self._write_loop(), name="webhook-writer")
        for name in self.endpoints:
            self._spawn(name)

    async def _load_saved(self) -> set[str]:
        saved: set[str] = set()
        for name, url, secret, events in await self.outbox.saved_endpoints():
            if name in self._configured:
                continue  # the config wins over an API-added endpoint of the same name
            try:
                self.endpoints[name] = Endpoint(name, url, secret, events)
                saved.add(name)
            except WebhookConfigError as exc:
                self.log.warning("stored webhook endpoint ignored", endpoint=name, error=str(exc))
        return saved

    async def reload(self) -> None:
        """Another worker added or removed an endpoint through the API: take the saved
        list again (rows for an endpoint are only written while it is known here)."""
        saved = await self._load_saved()
        for name in [n for n in self.endpoints if n not in saved and n not in self._configured]:
            del self.endpoints[name]
            task = self._tasks.pop(name, None)
            self._wake.pop(name, None)
            if task is not None:
                task.cancel()
        for name in self.endpoints:
            if self._client is not None and name not in self._tasks:
                self._spawn(name)

    async def aclose(self) -> None:
        tasks = [*self._tasks.values(), *([self._writer] if self._writer else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        with contextlib.suppress(Exception):
            await self.outbox.flush()  # what the last jobs added is kept for the next start
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        await self.outbox.close()

    def _spawn(self, name: str) -> None:
        if not self.deliver:
            return
        self._wake[name] = asyncio.Event()
        self._tasks[name] = asyncio.create_task(self._deliver_loop(name), name=f"webhook-{name}")

    async def _write_loop(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                await self.flush()
            except Exception:
                self.log.exception("outbox flush failed; retrying")
                self._dirty.set()
                await asyncio.sleep(1.0)

    async def _deliver_loop(self, name: str) -> None:
        wake = self._wake[name]
        while True:
            try:
                row = await self.outbox.head(name)
            except Exception:
                self.log.exception("outbox read failed", endpoint=name)
                await asyncio.sleep(1.0)
                continue
            endpoint = self.endpoints.get(name)
            if row is None or endpoint is None:
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.poll)
                continue
            delay = row.next_at - self.clock()
            if delay > 0:
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), delay)
                continue
            await self._attempt(endpoint, row)

    async def _attempt(self, endpoint: Endpoint, row: Delivery) -> None:
        assert self._client is not None
        now = self.clock()
        headers = sign_headers(endpoint.secret, row.msg_id, row.body, now)
        status: int | None = None
        error: str | None = None
        try:
            response = await self._client.post(
                endpoint.url, content=row.body.encode(), headers=headers
            )
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS] or type(exc).__name__
        attempts = row.attempts + 1
        done = self.clock()
        if error is None:
            self.sent += 1
            new = replace(
                row,
                state=State.DELIVERED,
                attempts=attempts,
                last_status=status,
                last_error=None,
                delivered_at=done,
            )
        else:
            self.failed += 1
            dead = done - row.created_at >= self.retry_for
            new = replace(
                row,
                state=State.DEAD if dead else State.PENDING,
                attempts=attempts,
                next_at=done + backoff(attempts, self.backoff_base, self.rng),
                last_status=status,
                last_error=error,
            )
            self.log.info(
                "webhook attempt failed",
                endpoint=endpoint.name,
                msg_id=row.msg_id,
                attempts=attempts,
                error=error,
                dead=dead,
            )
        await self.outbox.record(new)
        if self.metrics is not None:
            outcome = "delivered" if error is None else "dead" if dead_now(new) else "failed"
            self.metrics.inc("voiceroom_webhook_attempts_total", outcome=outcome)
