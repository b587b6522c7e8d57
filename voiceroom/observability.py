"""Structured logs (structlog, JSON lines on stderr) and Prometheus text metrics.

Metrics are plain counters and gauges kept in dicts: the server is one process and one
event loop, so no locks and no client library are needed. ``render()`` writes the
Prometheus text exposition format (version 0.0.4).
"""

from __future__ import annotations

import logging
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import structlog

_LEVELS: Final = {"debug": 10, "info": 20, "warning": 30, "error": 40}


def configure_logging(level: str = "info", *, json: bool = True) -> None:
    """JSON lines to stderr; context (conn, room, user) is bound per connection."""
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level.lower()]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # websockets logs handshake failures through stdlib logging; keep those terse.
    logging.getLogger("websockets").setLevel(logging.WARNING)


def get_logger(**context: Any) -> Any:
    return structlog.get_logger("voiceroom").bind(**context)


Labels = tuple[tuple[str, str], ...]

HELP: Final[dict[str, tuple[str, str]]] = {
    "voiceroom_connections": ("gauge", "Open client WebSocket connections."),
    "voiceroom_rooms": ("gauge", "Rooms currently hosted."),
    "voiceroom_members": ("gauge", "Room members (connected or within reconnect grace)."),
    "voiceroom_connections_total": ("counter", "Client connections accepted."),
    "voiceroom_handshake_rejected_total": ("counter", "Handshakes refused, by HTTP status."),
    "voiceroom_commands_total": ("counter", "Client messages handled, by type and outcome."),
    "voiceroom_errors_total": ("counter", "Error replies sent, by code."),
    "voiceroom_events_total": ("counter", "Room events emitted (before fan-out)."),
    "voiceroom_event_deliveries_total": ("counter", "Event frames queued to clients."),
    "voiceroom_rate_limited_total": ("counter", "Client messages refused by the rate limit."),
    "voiceroom_disconnects_total": ("counter", "Connections closed by the server, by reason."),
    "voiceroom_resumes_total": ("counter", "Reconnections, by outcome (replay or snapshot)."),
    "voiceroom_media": ("gauge", "Media plane statistics per room, by stat."),
}


class Metrics:
    """Counters and gauges with labels; ``gauge_fn`` registers values read at scrape."""

    def __init__(self) -> None:
        self._counters: dict[str, dict[Labels, float]] = defaultdict(lambda: defaultdict(float))
        self._gauges: dict[str, dict[Labels, float]] = defaultdict(dict)
        self._collectors: list[Callable[[Metrics], None]] = []

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        self._counters[name][tuple(sorted(labels.items()))] += amount

    def set(self, name: str, value: float, **labels: str) -> None:
        self._gauges[name][tuple(sorted(labels.items()))] = value

    def clear(self, name: str) -> None:
        self._gauges.pop(name, None)

    def collector(self, fn: Callable[[Metrics], None]) -> None:
        """``fn`` runs before each render, to refresh gauges."""
        self._collectors.append(fn)

    def value(self, name: str, **labels: str) -> float:
        key = tuple(sorted(labels.items()))
        if name in self._counters:
            return self._counters[name].get(key, 0.0)
        return self._gauges.get(name, {}).get(key, 0.0)

    def render(self) -> str:
        for fn in self._collectors:
            fn(self)
        lines: list[str] = []
        for name in sorted(set(self._counters) | set(self._gauges) | set(HELP)):
            kind, text = HELP.get(name, ("untyped", name))
            series = self._counters.get(name) or self._gauges.get(name) or {}
            lines.append(f"# HELP {name} {text}")
            lines.append(f"# TYPE {name} {kind}")
            lines.extend(f"{name}{_labels(k)} {_num(v)}" for k, v in sorted(series.items()))
        return "\n".join(lines) + "\n"


def _labels(labels: Iterable[tuple[str, str]]) -> str:
    parts = [f'{k}="{_escape(v)}"' for k, v in labels]
    return "{" + ",".join(parts) + "}" if parts else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def flatten_numbers(stats: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, float]]:
    """Numeric leaves of a nested stats dict as ``("a.b", 1.0)`` pairs (for media stats)."""
    for key, value in stats.items():
        name = f"{prefix}{key}"
        if isinstance(value, int | float):  # bool is an int: True counts as 1
            yield name, float(value)
        elif isinstance(value, Mapping):
            yield from flatten_numbers(value, name + ".")
