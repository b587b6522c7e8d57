"""Structured logs (structlog, JSON lines on stderr) and Prometheus metrics.

Metrics go through ``prometheus_client`` (docs/adr/0002-prometheus-client.md): counters,
gauges and latency histograms in a registry of the server's own, exposed by
``generate_latest`` in the text format (version 0.0.4) at ``GET /metrics``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Literal

import structlog
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

# The *_created series (a timestamp per counter and label set) mean nothing to a
# dashboard here and double the size of every scrape.
disable_created_metrics()  # type: ignore[no-untyped-call]

CONTENT_TYPE: Final = CONTENT_TYPE_PLAIN_0_0_4

_LEVELS: Final = {"debug": 10, "info": 20, "warning": 30, "error": 40}


def configure_logging(level: str = "info", *, json: bool = True) -> None:
    """JSON lines to stderr; context (conn, room, user) is bound per connection. What
    libraries (and voiceroom.media) log through stdlib ``logging`` goes out the same way:
    JSON lines too in JSON mode. The console format has colours only on a terminal."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=_colour(sys.stderr))
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level.lower()]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_STDLIB_HANDLER)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _STDLIB_HANDLER]:
        root.removeHandler(old)
    root.addHandler(handler)
    # Libraries (aioice, aiortc, uvicorn) keep the stdlib default (warnings and worse) but
    # at debug; voiceroom's own stdlib loggers follow ``level``.
    wanted = _LEVELS[level.lower()]
    root.setLevel(wanted if wanted == logging.DEBUG else max(wanted, logging.WARNING))
    logging.getLogger("voiceroom").setLevel(wanted)
    # websockets logs handshake failures through stdlib logging; keep those terse.
    logging.getLogger("websockets").setLevel(logging.WARNING)


_STDLIB_HANDLER = "voiceroom"


def _colour(stream: Any) -> bool:
    """ANSI colours only for a terminal (not a journal, a file or a pipe)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def get_logger(**context: Any) -> Any:
    return structlog.get_logger("voiceroom").bind(**context)


Kind = Literal["counter", "gauge", "histogram"]

# Seconds: sub-millisecond to a few seconds (a room job, a join, a tick on a busy box).
LATENCY_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)  # fmt: skip

# Histograms of work that takes microseconds (the workers' front hands a socket over).
FINE_BUCKETS: Final = (
    0.00002, 0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.0025, 0.01, 0.1, 1.0,
)  # fmt: skip
FINE: Final = frozenset({"voiceroom_handoff_seconds"})

# name -> (kind, help, label names). A name used but not listed here is still exposed
# (a counter or gauge with the labels of its first use), so a new metric needs no edit
# here to work; listing it gives it help text and a fixed set of labels.
# The front process of ``serve --workers N`` (voiceroom.workers): its own series, beside
# every worker's series labelled worker="i".
FRONT_METRICS: Final[dict[str, tuple[Kind, str, tuple[str, ...]]]] = {
    "voiceroom_workers": ("gauge", "Worker processes, by state.", ("state",)),
    "voiceroom_worker_restarts_total": ("counter", "Workers restarted after exiting.", ("worker",)),
    "voiceroom_front_connections_total": (
        "counter",
        "Connections the front accepted, by route (room, any, health, metrics, refused).",
        ("route",),
    ),
    "voiceroom_handoff_seconds": (
        "histogram",
        "From a connection's request head read (peeked) to its socket handed to its worker "
        "(token check, registry, SCM_RIGHTS).",
        (),
    ),
    "voiceroom_room_leases": ("gauge", "Rooms with a lease in the registry.", ()),
}

METRICS: Final[dict[str, tuple[Kind, str, tuple[str, ...]]]] = {
    "voiceroom_connections": ("gauge", "Open client WebSocket connections.", ()),
    "voiceroom_rooms": ("gauge", "Rooms currently hosted.", ()),
    "voiceroom_members": ("gauge", "Room members (connected or within reconnect grace).", ()),
    "voiceroom_connections_accepted_total": ("counter", "Client connections accepted.", ()),
    "voiceroom_handshake_rejected_total": (
        "counter",
        "Handshakes refused, by HTTP status.",
        ("status",),
    ),
    "voiceroom_join_checks_total": ("counter", "GET /api/join-check answers, by code.", ("code",)),
    "voiceroom_commands_total": (
        "counter",
        "Client messages handled, by type and outcome.",
        ("outcome", "type"),
    ),
    "voiceroom_errors_total": ("counter", "Error replies sent, by code.", ("code",)),
    "voiceroom_events_total": ("counter", "Room events emitted (before fan-out).", ()),
    "voiceroom_event_deliveries_total": ("counter", "Event frames queued to clients.", ()),
    "voiceroom_rate_limited_total": (
        "counter",
        "Client messages refused by the rate limit.",
        (),
    ),
    "voiceroom_disconnects_total": (
        "counter",
        "Connections closed by the server, by reason.",
        ("reason",),
    ),
    "voiceroom_resumes_total": (
        "counter",
        "Reconnections, by outcome (replay or snapshot).",
        ("outcome",),
    ),
    "voiceroom_media": ("gauge", "Media plane statistics per room, by stat.", ("room", "stat")),
    "voiceroom_tick_lateness_seconds": (
        "histogram",
        "How late a room's periodic tick job ran after it was due (queue wait included).",
        (),
    ),
    "voiceroom_join_seconds": (
        "histogram",
        "From the WebSocket upgrade to the welcome frame queued.",
        (),
    ),
    "voiceroom_command_seconds": (
        "histogram",
        "From a client frame read to its room command answered (queue wait included).",
        ("type",),
    ),
    "voiceroom_webhook_attempts_total": (
        "counter",
        "Webhook delivery attempts, by outcome (delivered, failed, dead).",
        ("outcome",),
    ),
    "voiceroom_webhook_messages_total": (
        "counter",
        "Webhook messages queued in the outbox (one per matching endpoint).",
        (),
    ),
    # Reserved for the commerce core's claims (sale.claim): from request to answer.
    "voiceroom_claim_seconds": (
        "histogram",
        "From a claim request read to its answer (commerce).",
        (),
    ),
}

_Metric = Counter | Gauge | Histogram


class Metrics:
    """The server's metrics in its own prometheus_client ``CollectorRegistry`` (never the
    process-global one, so two servers in one process, as in tests, keep apart).

    ``inc``/``set``/``observe`` take the metric name and label values; ``collector``
    callbacks refresh gauges before each scrape; ``render()`` is the text exposition.
    """

    def __init__(self, table: Mapping[str, tuple[Kind, str, tuple[str, ...]]] = METRICS) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._metrics: dict[str, _Metric] = {}
        self._collectors: list[Callable[[Metrics], None]] = []
        for name, (kind, text, labels) in table.items():
            self._declare(name, kind, text, labels)

    def _declare(self, name: str, kind: Kind, text: str, labels: tuple[str, ...]) -> _Metric:
        metric: _Metric
        if kind == "counter":
            metric = Counter(name, text, labels, registry=self.registry)
        elif kind == "gauge":
            metric = Gauge(name, text, labels, registry=self.registry)
        else:
            buckets = FINE_BUCKETS if name in FINE else LATENCY_BUCKETS
            metric = Histogram(name, text, labels, registry=self.registry, buckets=buckets)
        self._metrics[name] = metric
        return metric

    def _get(self, name: str, kind: Kind, labels: dict[str, str]) -> Any:
        metric = self._metrics.get(name)
        if metric is None:
            metric = self._declare(name, kind, name, tuple(sorted(labels)))
        return metric.labels(**labels) if labels else metric

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        self._get(name, "counter", labels).inc(amount)

    def set(self, name: str, value: float, **labels: str) -> None:
        self._get(name, "gauge", labels).set(value)

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        self._get(name, "histogram", labels).observe(seconds)

    def clear(self, name: str) -> None:
        """Drop every labelled series of a gauge (e.g. rooms that closed)."""
        metric = self._metrics.get(name)
        if isinstance(metric, Gauge) and metric._labelnames:
            metric.clear()

    def collector(self, fn: Callable[[Metrics], None]) -> None:
        """``fn`` runs before each render, to refresh gauges."""
        self._collectors.append(fn)

    def value(self, name: str, **labels: str) -> float:
        """A sample's current value (0 when absent): a counter's total, a gauge's value,
        a histogram's count."""
        metric = self._metrics.get(name)
        sample = name + "_count" if isinstance(metric, Histogram) else name
        found = self.registry.get_sample_value(sample, labels)
        return 0.0 if found is None else found

    def render(self) -> str:
        for fn in self._collectors:
            fn(self)
        return generate_latest(self.registry).decode()


def flatten_numbers(stats: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, float]]:
    """Numeric leaves of a nested stats dict as ``("a.b", 1.0)`` pairs (for media stats)."""
    for key, value in stats.items():
        name = f"{prefix}{key}"
        if isinstance(value, int | float):  # bool is an int: True counts as 1
            yield name, float(value)
        elif isinstance(value, Mapping):
            yield from flatten_numbers(value, name + ".")
