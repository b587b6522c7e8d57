"""One immutable server configuration, from defaults < TOML file < environment < flags.

TOML layout (every key optional)::

    host = "0.0.0.0"
    port = 8765
    secret = "change-me-32-bytes-or-more........"
    media = true
    music_dir = "/srv/music"

    [room]              # voiceroom.room.RoomConfig defaults for new rooms
    seat_count = 8
    reconnect_grace = 20.0
    tiers = ["vip", "active", "new"]

    [media_settings]    # passed to voiceroom.media's MediaConfig as keyword arguments
    bitrate = 32000

    api_keys = ["shop1:a-long-random-secret-of-32-chars-or-more"]   # HTTP API (docs/api.md)
    [webhooks.shop]     # Standard Webhooks endpoint: url, secret (whsec_...), events
    url = "https://shop.example/hooks/voiceroom"
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    events = ["room.*", "consultation.ended"]

Environment: ``VOICEROOM_<KEY>`` for top-level keys (``VOICEROOM_PORT=9000``) and
``VOICEROOM_ROOM_<KEY>`` for room keys (``VOICEROOM_ROOM_SEAT_COUNT=10``); tuples are
comma-separated, booleans ``1/0/true/false/yes/no``. API keys:
``VOICEROOM_API_KEYS=kid:secret,kid2:secret2``.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from voiceroom.errors import VoiceroomError
from voiceroom.room.errors import RuleError
from voiceroom.room.model import RoomConfig

ENV_PREFIX = "VOICEROOM_"
DEFAULT_WEB_ROOT = Path(__file__).resolve().parent.parent / "clients" / "web"
# Package data: a synthesized warm-up loop (scripts/make_demo_music.py) for --demo.
DEMO_MUSIC_DIR = Path(__file__).resolve().parent / "assets" / "music"


class ConfigError(VoiceroomError):
    """Bad configuration at start-up."""


@dataclass(frozen=True, slots=True)
class Config:
    # Network
    host: str = "127.0.0.1"
    port: int = 8765
    ws_path: str = "/ws"
    web_root: Path | None = DEFAULT_WEB_ROOT
    # Auth: HS256 secret shared with whoever issues join tokens (>= 32 bytes advised)
    secret: str = ""
    token_ttl: float = 3600.0
    # Limits
    max_frame_bytes: int = 64 * 1024  # larger frames get a bad_frame error
    hard_max_frame_bytes: int = 1024 * 1024  # larger frames close the socket with 1009
    send_queue: int = 1024  # frames queued for one client before it counts as too slow
    rate: float = 30.0  # client messages per second (token bucket refill)
    burst: int = 60  # token bucket size
    flood_limit: int = 50  # rate-limited messages in a row before closing with 1008
    replay_buffer: int = 4096  # events kept per room for resume
    max_rooms: int = 10_000
    # Timeouts (seconds)
    tick_interval: float = 0.5  # room.tick period: invite and reconnect-grace expiry
    count_interval: float = 2.0  # room.count broadcasts at most this often (when changed)
    shutdown_timeout: float = 5.0  # bounded wait for clients to close before cancelling
    ping_interval: float | None = 20.0  # WebSocket keepalive; a dead peer is dropped
    # Rooms
    room: RoomConfig = field(default_factory=RoomConfig)
    # Media
    media: bool = True  # a MediaRoom per room (off: signalling only, e.g. load tests)
    # Tracks for music.play are resolved inside this directory; `serve --demo` without one
    # uses the bundled DEMO_MUSIC_DIR.
    music_dir: Path | None = None
    media_settings: Mapping[str, Any] = field(default_factory=dict)
    # HTTP API (voiceroom.api, docs/api.md): its own port, default port + 1 (0 with port 0)
    api: bool = True
    api_port: int | None = None
    # "kid:secret" pairs; API requests carry a short-lived HS256 JWT signed with the secret
    api_keys: tuple[str, ...] = ()
    # Where the page is reachable from outside (join links); default http://host:port
    public_url: str = ""
    # Webhook endpoints by name: {url, secret, events}; more can be added through the API
    webhooks: Mapping[str, Any] = field(default_factory=dict)
    # SQLite file holding the webhook outbox (durable across restarts); "" keeps it in memory
    webhook_outbox: str = ""
    webhook_timeout: float = 10.0  # seconds per delivery attempt
    webhook_retry_for: float = 24 * 3600.0  # then the message is dead-lettered
    webhook_backoff: float = 1.0  # first retry after ~this many seconds, doubling
    # Logging
    log_level: str = "info"
    log_json: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port {self.port} out of range")
        if not self.ws_path.startswith("/"):
            raise ConfigError("ws_path must start with /")
        if self.rate <= 0 or self.burst < 1 or self.flood_limit < 1:
            raise ConfigError("rate, burst and flood_limit must be positive")
        if not 1024 <= self.max_frame_bytes <= self.hard_max_frame_bytes:
            raise ConfigError("need 1024 <= max_frame_bytes <= hard_max_frame_bytes")
        if self.send_queue < 16 or self.replay_buffer < 16:
            raise ConfigError("send_queue and replay_buffer must be at least 16")
        if self.tick_interval <= 0 or self.shutdown_timeout < 0 or self.count_interval < 0:
            raise ConfigError(
                "tick_interval must be positive, shutdown_timeout and count_interval >= 0"
            )
        if self.api_port is not None and not 0 <= self.api_port <= 65535:
            raise ConfigError(f"api_port {self.api_port} out of range")
        for entry in self.api_keys:
            kid, _, key = entry.partition(":")
            if not kid or len(key) < 16:
                raise ConfigError("api_keys entries are kid:secret with a secret of >= 16 chars")
        if min(self.webhook_timeout, self.webhook_retry_for, self.webhook_backoff) <= 0:
            raise ConfigError("webhook_timeout, webhook_retry_for, webhook_backoff must be > 0")
        if self.log_level.lower() not in ("debug", "info", "warning", "error"):
            raise ConfigError(f"unknown log_level {self.log_level!r}")

    @property
    def api_key_secrets(self) -> dict[str, str]:
        """API key id -> secret."""
        pairs = (entry.partition(":") for entry in self.api_keys)
        return {kid: key for kid, _, key in pairs}

    @property
    def api_bind_port(self) -> int:
        if self.api_port is not None:
            return self.api_port
        return 0 if self.port == 0 else min(self.port + 1, 65535)

    def with_overrides(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def load_config(
    path: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Config:
    """Build the Config: defaults, then the TOML file, then ``env``, then ``overrides``."""
    top: dict[str, Any] = {}
    room: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}") from None
        room.update(data.pop("room", {}) or {})
        top.update(data)
    for key, raw in (env or {}).items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name.startswith("room_") and name[5:] in _ROOM_FIELDS:
            room[name[5:]] = raw
        elif name in _TOP_FIELDS:
            top[name] = raw
    top.update({k: v for k, v in overrides.items() if v is not None})
    try:
        room_cfg = RoomConfig(**_coerce_all(RoomConfig, room, "room"))
        return Config(room=room_cfg, **_coerce_all(Config, top, ""))
    except RuleError as exc:
        raise ConfigError(f"room: {exc.message}") from None
    except TypeError as exc:
        raise ConfigError(str(exc)) from None


_TOP_FIELDS = {f.name for f in dataclasses.fields(Config)} - {"room"}
_ROOM_FIELDS = {f.name for f in dataclasses.fields(RoomConfig)}


def _coerce_all(cls: type[Any], values: Mapping[str, Any], section: str) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for key, value in values.items():
        where = f"{section}.{key}" if section else key
        if key not in hints or key == "room":
            raise ConfigError(f"unknown setting {where!r}")
        try:
            out[key] = _coerce(hints[key], value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"setting {where!r}: {exc}") from None
    return out


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _coerce(hint: Any, value: Any) -> Any:
    """Turn a TOML value or an environment string into the field's type."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        args = typing.get_args(hint)
        if type(None) in args and (value is None or value in ("", "none", "null")):
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise ValueError(f"expected a boolean, got {value!r}")
    if hint in (int, float):
        if isinstance(value, bool):
            raise ValueError(f"expected a number, got {value!r}")
        return hint(value)
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {value!r}")
        return value
    if hint is Path:
        return Path(str(value)).expanduser()
    if origin is tuple:
        items = value.split(",") if isinstance(value, str) else list(value)
        return tuple(str(i).strip() for i in items if str(i).strip())
    if origin is Mapping or origin is dict:
        if not isinstance(value, Mapping):
            raise ValueError("expected a table")
        return dict(value)
    raise ValueError(f"unsupported setting type {hint!r}")
