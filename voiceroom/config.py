"""One immutable server configuration, from defaults < TOML file < environment < flags.

TOML layout (every key optional)::

    host = "0.0.0.0"
    port = 8765
    secret = "change-me-32-bytes-or-more........"
    media = true
    music_dir = "/srv/music"
    store = "sqlite"    # or "sqlite:///srv/voiceroom/voiceroom.db", "postgresql+psycopg://..."
    data_dir = "var"    # where store = "sqlite" keeps voiceroom.db
    snapshot_every = 200
    chat_retention_days = 90

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
``VOICEROOM_ROOM_<KEY>`` for room keys (``VOICEROOM_ROOM_SEAT_COUNT=10``; the store:
``VOICEROOM_STORE``, ``VOICEROOM_DATA_DIR``, ``VOICEROOM_SNAPSHOT_EVERY``,
``VOICEROOM_CHAT_RETENTION_DAYS``); tuples are
comma-separated, booleans ``1/0/true/false/yes/no``. API keys:
``VOICEROOM_API_KEYS=kid:secret,kid2:secret2``.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
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
    send_queue_bytes: int = 2 * 1024 * 1024  # ... or bytes queued, whichever comes first
    rate: float = 30.0  # client messages per second (token bucket refill)
    burst: int = 60  # token bucket size
    flood_limit: int = 50  # rate-limited messages in a row before closing with 1008
    replay_buffer: int = 4096  # events kept per room for resume
    max_rooms: int = 10_000
    # Timeouts (seconds)
    tick_interval: float = 0.5  # room.tick period: invite and reconnect-grace expiry
    count_interval: float = 2.0  # room.count broadcasts at most this often (when changed)
    shutdown_timeout: float = 5.0  # bounded wait for clients to close before cancelling
    handshake_timeout: float = 10.0  # TCP accept -> WebSocket upgrade done, else dropped
    ping_interval: float | None = 20.0  # WebSocket keepalive; a dead peer is dropped
    # Rooms
    room: RoomConfig = field(default_factory=RoomConfig)
    # Media
    media: bool = True  # a MediaRoom per room (off: signalling only, e.g. load tests)
    # Tracks for music.play are resolved inside this directory; `serve --demo` without one
    # uses the bundled DEMO_MUSIC_DIR.
    music_dir: Path | None = None
    music_rescan_interval: float = 5.0  # seconds between checks for added/removed tracks
    media_settings: Mapping[str, Any] = field(default_factory=dict)
    # Store (docs/adr/0001-store.md): "memory" (nothing survives the process; the library
    # default, so tests and embedders opt in), "sqlite" (<data_dir>/voiceroom.db: what
    # `voiceroom serve` uses unless told otherwise), "sqlite:///path" or
    # "postgresql+psycopg://user@host/db".
    store: str = "memory"
    data_dir: Path = Path("var")
    snapshot_every: int = 200  # journal entries between two snapshots of a room
    chat_retention_days: float = 0.0  # chat older than this is pruned; 0 keeps it all
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
        if self.send_queue_bytes < 64 * 1024:
            raise ConfigError("send_queue_bytes must be at least 65536")
        if self.handshake_timeout <= 0:
            raise ConfigError("handshake_timeout must be positive")
        if self.music_rescan_interval <= 0:
            raise ConfigError("music_rescan_interval must be positive")
        if self.tick_interval <= 0 or self.shutdown_timeout < 0 or self.count_interval < 0:
            raise ConfigError(
                "tick_interval must be positive, shutdown_timeout and count_interval >= 0"
            )
        if self.snapshot_every < 1 or self.chat_retention_days < 0:
            raise ConfigError("snapshot_every must be >= 1 and chat_retention_days >= 0")
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


# VOICEROOM_* variables that are not settings: read by scripts/bootstrap.sh and the tests.
NON_SETTING_ENV = frozenset(
    {"VOICEROOM_SKIP_APT", "VOICEROOM_WITH_BROWSER", "VOICEROOM_UPDATE_SCREENSHOTS"}
    # scripts/test.sh and the store's tests (scripts/pg_test.sh, tests/store/test_crash.py)
    | {"VOICEROOM_TEST_POSTGRES", "VOICEROOM_TEST_POSTGRES_URL"}
    | {"VOICEROOM_CRASH_TRIALS", "VOICEROOM_CRASH_SEED"}
)
MIN_SECRET_BYTES = 32  # HS256 keys shorter than the hash (RFC 7518 3.2) are refused


def check_secret(secret: str, *, demo: bool) -> None:
    """Refuse a missing or short join-token secret, except for ``serve --demo`` (which
    makes a throw-away secret when none is set)."""
    if demo:
        return
    if not secret:
        raise ConfigError(
            "no secret: set VOICEROOM_SECRET (or `secret` in --config) to at least "
            f"{MIN_SECRET_BYTES} random bytes, e.g. `openssl rand -base64 32`, or use --demo"
        )
    size = len(secret.encode())
    if size < MIN_SECRET_BYTES:
        raise ConfigError(
            f"secret too short: {size} bytes, need at least {MIN_SECRET_BYTES} "
            "(e.g. `openssl rand -base64 32`)"
        )


def env_name(key: str) -> str:
    """The environment variable of a setting: ``port``, ``room.seat_count``,
    ``media_settings.bitrate`` -> VOICEROOM_PORT, VOICEROOM_ROOM_SEAT_COUNT,
    VOICEROOM_MEDIA_BITRATE."""
    section, _, name = key.rpartition(".")
    prefix = {"": "", "room": "ROOM_", "media_settings": "MEDIA_"}[section]
    return f"{ENV_PREFIX}{prefix}{name.upper()}"


def load_config(
    path: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    *,
    defaults: Mapping[str, Any] | None = None,
    warn: Callable[[str], None] | None = None,
    **overrides: Any,
) -> Config:
    """Build the Config: defaults (``Config``'s, then the command's ``defaults``), then the
    TOML file, then ``env``, then ``overrides``.

    ``warn`` gets one line per ``VOICEROOM_*`` variable that names no setting (a typo
    would otherwise be ignored silently); the default logs it.
    """
    top: dict[str, Any] = dict(defaults or {})
    room: dict[str, Any] = {}
    media: dict[str, Any] = {}
    # Where each value came from, for error messages that name what to fix.
    origin: dict[str, str] = {}
    if path is not None:
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}") from None
        room.update(data.pop("room", {}) or {})
        media.update(data.pop("media_settings", {}) or {})
        top.update(data)
        for section, values in (("", top), ("room.", room), ("media_settings.", media)):
            origin.update({section + k: f"{path}: {section}{k}" for k in values})
    for key, raw in (env or {}).items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name in _TOP_FIELDS and name != "media_settings":
            top[name], origin[name] = raw, f"environment variable {key}"
        elif name.startswith("room_") and name[5:] in _ROOM_FIELDS:
            room[name[5:]], origin["room." + name[5:]] = raw, f"environment variable {key}"
        elif name.startswith("media_") and name[6:] in _MEDIA_FIELDS:
            where = "media_settings." + name[6:]
            media[name[6:]], origin[where] = raw, f"environment variable {key}"
        elif key not in NON_SETTING_ENV:
            (warn or _log_warning)(_unknown_env_message(key))
    for k, v in overrides.items():
        if v is not None:
            top[k], origin[k] = v, "--" + k.replace("_", "-")
    try:
        room_cfg = RoomConfig(**_coerce_all(RoomConfig, room, "room", origin))
        media_cfg = _coerce_all(_media_config_class(), media, "media_settings", origin)
        top_cfg = _coerce_all(Config, top, "", origin)
        top_cfg.setdefault("media_settings", {})
        top_cfg["media_settings"] = {**top_cfg["media_settings"], **media_cfg}
        return Config(room=room_cfg, **top_cfg)
    except RuleError as exc:
        raise ConfigError(f"room: {exc.message}") from None
    except TypeError as exc:
        raise ConfigError(str(exc)) from None


def _media_config_class() -> type[Any]:
    from voiceroom.media.config import MediaConfig  # plain dataclass: no media deps

    return MediaConfig


def all_env_names() -> dict[str, str]:
    """Every setting's variable -> its key (``VOICEROOM_PORT`` -> ``port``)."""
    keys = [k for k in _TOP_FIELDS if k != "media_settings"]
    keys += [f"room.{k}" for k in _ROOM_FIELDS]
    keys += [f"media_settings.{k}" for k in _MEDIA_FIELDS]
    return {env_name(k): k for k in keys}


def _unknown_env_message(var: str) -> str:
    names = all_env_names()
    close = difflib.get_close_matches(var.upper(), list(names), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]} ({names[close[0]]})?" if close else ""
    return f"unknown environment variable {var} ignored: it names no setting{hint}"


def _log_warning(message: str) -> None:
    logging.getLogger("voiceroom.config").warning(message)


_TOP_FIELDS = {f.name for f in dataclasses.fields(Config)} - {"room"}
_ROOM_FIELDS = {f.name for f in dataclasses.fields(RoomConfig)}
_MEDIA_FIELDS = {f.name for f in dataclasses.fields(_media_config_class())}


def _coerce_all(
    cls: type[Any], values: Mapping[str, Any], section: str, origin: Mapping[str, str]
) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for key, value in values.items():
        where = f"{section}.{key}" if section else key
        source = origin.get(where, f"setting {where!r}")
        if key not in hints or key == "room":
            raise ConfigError(f"unknown setting {where!r} ({source})")
        try:
            out[key] = _coerce(hints[key], value)
        except (TypeError, ValueError) as exc:
            if source.startswith("environment variable"):
                env = source.removeprefix("environment variable ")
                raise ConfigError(f"{env}={value}: {exc} (setting {where!r})") from None
            raise ConfigError(f"setting {where!r} ({source}): {exc}") from None
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
        try:
            return hint(value)
        except ValueError:
            kind = "an integer" if hint is int else "a number"
            raise ValueError(f"expected {kind}, got {value!r}") from None
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
