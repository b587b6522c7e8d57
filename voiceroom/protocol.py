"""The wire protocol: msgpack maps in binary WebSocket frames, a versioned envelope.

Sans-I/O: this module turns bytes into typed messages and typed messages into bytes; it
never touches a socket. Every decoding failure is a :class:`ProtocolError` carrying an
:class:`ErrorCode` (and the request id when one could be read), never another exception.

Client -> server::

    {"v": 1, "type": "seat.take", "id": 17, "body": {"seat": 3}}

Server -> client::

    {"v": 1, "type": "reply", "id": 17, "ok": true, "body": {...}}
    {"v": 1, "type": "error", "id": 17, "code": "seat_taken", "message": "..."}
    {"v": 1, "type": "seat.updated", "seq": 42, "body": {...}}      # room event
    {"v": 1, "type": "welcome", "seq": 41, "body": {...}}           # first frame
    {"v": 1, "type": "media.speaking", "body": {...}}              # ephemeral: no seq
    {"v": 1, "type": "room.count", "body": {"members": 120}}        # ephemeral: no seq

Body validation is generic: each command (and control message) is a dataclass whose
fields are ``str``, ``int``, ``float``, ``bool`` or ``X | None``. Types are exact (a bool
is not an int), missing or extra fields are refused, strings are length-capped and floats
must be finite. A float field accepts an integer because JavaScript msgpack encoders write
``1.0`` as ``1``.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any, ClassVar, Final, Union

import msgpack

from voiceroom.commerce.commands import COMMAND_TYPES as SHOP_COMMAND_TYPES
from voiceroom.errors import VoiceroomError
from voiceroom.games.commands import COMMAND_TYPES as GAMES_COMMAND_TYPES
from voiceroom.room.commands import COMMANDS, Command
from voiceroom.room.errors import ErrorCode
from voiceroom.room.events import Event
from voiceroom.venue import merge_command_names
from voiceroom.wire_form import plain

VERSION: Final = 1

# Limits
MAX_FRAME_BYTES: Final = 64 * 1024  # soft cap: larger frames get a bad_frame error
MAX_STR_CHARS: Final = 4096  # any string field, unless the message says otherwise
MAX_SDP_CHARS: Final = 60_000
MAX_ID: Final = 2**53 - 1  # ids survive a round trip through a JavaScript number

ENVELOPE_KEYS: Final = frozenset({"v", "type", "id", "body"})


class CloseCode(IntEnum):
    """WebSocket close codes the server uses.

    1000-1015 are defined by RFC 6455 section 7.4.1 (1012 by the IANA registry);
    4000-4999 are reserved for private use by applications (RFC 6455 section 7.4.2).
    """

    NORMAL = 1000  # the client sent ``leave``
    GOING_AWAY = 1001  # server shutting down (SIGINT)
    POLICY_VIOLATION = 1008  # flood: kept sending after being rate limited
    MESSAGE_TOO_BIG = 1009  # frame above the hard cap (sent by websockets itself)
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012  # server restarting (SIGTERM): reconnect and resume
    REPLACED = 4001  # a newer connection for the same identity took over
    SLOW_CONSUMER = 4002  # could not keep up with the room's events: reconnect and resume
    KICKED = 4003  # removed by a moderator; cannot rejoin
    ROOM_CLOSED = 4004  # the room ended (or does not exist any more)


class ProtocolError(VoiceroomError):
    """A frame could not be decoded or validated. ``id`` is the request id if known."""

    def __init__(self, code: ErrorCode, message: str, id: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.id = id


# --- control messages: client -> server, not room commands ----------------------------
@dataclass(frozen=True, slots=True)
class Ping(Command):
    """Liveness / clock probe; the reply carries the server time."""

    TYPE: ClassVar[str] = "ping"


@dataclass(frozen=True, slots=True)
class Sync(Command):
    """Ask for a fresh snapshot of the room (e.g. after a gap in ``seq``)."""

    TYPE: ClassVar[str] = "sync"


@dataclass(frozen=True, slots=True)
class Leave(Command):
    """Leave the room for good: seat and queue place are released at once."""

    TYPE: ClassVar[str] = "leave"


@dataclass(frozen=True, slots=True)
class MediaOffer(Command):
    """A WebRTC SDP offer; the reply carries the SDP answer."""

    TYPE: ClassVar[str] = "media.offer"
    sdp: str


@dataclass(frozen=True, slots=True)
class MediaIce(Command):
    """Ask for fresh STUN/TURN servers (time-limited TURN credentials run out)."""

    TYPE: ClassVar[str] = "media.ice"


CONTROL_TYPES: tuple[type[Command], ...] = (Ping, Sync, Leave, MediaOffer, MediaIce)
CONTROLS: dict[str, type[Command]] = {c.TYPE: c for c in CONTROL_TYPES}
# Every wire name a client may send: the room's commands, each side core's, and controls.
# A name claimed twice raises at import (tests/test_venue.py checks it too).
MESSAGES: dict[str, type[Command]] = merge_command_names(
    COMMANDS.values(), CONTROL_TYPES, SHOP_COMMAND_TYPES, GAMES_COMMAND_TYPES
)

# Per-field string caps that differ from MAX_STR_CHARS.
STR_CAPS: dict[tuple[str, str], int] = {("media.offer", "sdp"): MAX_SDP_CHARS}


# --- schema, derived once from the dataclasses ------------------------------------------
@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    types: tuple[type, ...]  # exact accepted Python types (NoneType for optional)
    required: bool
    max_chars: int


_WIRE_TYPES: Final = (str, int, float, bool, list, dict)
# Two container shapes besides the scalars: a list of strings (vote options) and a map of
# string to string (prompt params); at most MAX_ITEMS entries, each string capped as usual.
_CONTAINERS: Final[dict[Any, type]] = {list[str]: list, dict[str, str]: dict}
MAX_ITEMS: Final = 32


def _field_specs(cls: type[Command]) -> tuple[FieldSpec, ...]:
    hints = typing.get_type_hints(cls)
    specs = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        origin = typing.get_origin(hint)
        args = typing.get_args(hint) if origin in (Union, types.UnionType) else (hint,)
        args = tuple(_CONTAINERS.get(a, a) for a in args)
        accepted = tuple(a for a in args if a is type(None) or a in _WIRE_TYPES)
        if len(accepted) != len(args):
            raise TypeError(f"{cls.__name__}.{f.name}: {hint} is not a wire type")
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        cap = STR_CAPS.get((cls.TYPE, f.name), MAX_STR_CHARS)
        specs.append(FieldSpec(f.name, accepted, required, cap))
    return tuple(specs)


SCHEMAS: dict[str, tuple[FieldSpec, ...]] = {t: _field_specs(c) for t, c in MESSAGES.items()}


def _check_value(spec: FieldSpec, value: Any) -> Any:
    """Return the value to store, or raise ValueError with a reason."""
    kind = type(value)  # exact: bool is a subclass of int, and must not pass as one
    if kind in spec.types:
        if kind is str and len(value) > spec.max_chars:
            raise ValueError(f"longer than {spec.max_chars} characters")
        if kind is float and not math.isfinite(value):
            raise ValueError("not a finite number")
        if kind is int and not -MAX_ID <= value <= MAX_ID:
            raise ValueError("integer out of range")
        if kind is list or kind is dict:
            return _check_container(spec, value)
        return value
    if kind is int and float in spec.types and -MAX_ID <= value <= MAX_ID:
        return float(value)
    names = " or ".join("null" if t is type(None) else t.__name__ for t in spec.types)
    raise ValueError(f"expected {names}, got {_wire_name(value)}")


def _check_container(spec: FieldSpec, value: list[Any] | dict[Any, Any]) -> Any:
    if len(value) > MAX_ITEMS:
        raise ValueError(f"more than {MAX_ITEMS} entries")
    items = list(value.items()) if isinstance(value, dict) else [("", v) for v in value]
    for key, item in items:
        for s in (key, item):
            if type(s) is not str:
                raise ValueError(f"entries must be strings, got {_wire_name(s)}")
            if len(s) > spec.max_chars:
                raise ValueError(f"an entry is longer than {spec.max_chars} characters")
    return dict(value) if isinstance(value, dict) else list(value)


def _wire_name(value: Any) -> str:
    if value is None:
        return "null"
    names: dict[type, str] = {dict: "map", list: "array", bytes: "bin"}
    return names.get(type(value), type(value).__name__)


def parse_body(type_: str, body: Mapping[Any, Any], id: int | None = None) -> Command:
    """Validate a body map against the message's dataclass and build it."""
    cls = MESSAGES.get(type_)
    if cls is None:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {type_!r}", id)
    specs = SCHEMAS[type_]
    known = {s.name for s in specs}
    extra = [k for k in body if k not in known]
    if extra:
        raise ProtocolError(ErrorCode.BAD_FIELD, f"{type_}: unknown field {extra[0]!r}", id)
    kwargs: dict[str, Any] = {}
    for spec in specs:
        if spec.name not in body:
            if spec.required:
                raise ProtocolError(ErrorCode.BAD_FIELD, f"{type_}.{spec.name}: missing", id)
            continue
        try:
            kwargs[spec.name] = _check_value(spec, body[spec.name])
        except ValueError as exc:
            raise ProtocolError(ErrorCode.BAD_FIELD, f"{type_}.{spec.name}: {exc}", id) from None
    return cls(**kwargs)


# --- decoding ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Request:
    """A decoded client message: a room command or a control message."""

    id: int
    message: Command

    @property
    def type(self) -> str:
        return self.message.TYPE


def decode(data: bytes | bytearray | memoryview | str, max_bytes: int = MAX_FRAME_BYTES) -> Request:
    """Decode one client frame. Raises :class:`ProtocolError` and nothing else."""
    if isinstance(data, str):
        raise ProtocolError(ErrorCode.BAD_FRAME, "text frames are not accepted: send binary")
    if len(data) > max_bytes:
        raise ProtocolError(ErrorCode.BAD_FRAME, f"frame larger than {max_bytes} bytes")
    try:
        # strict_map_key: only str/bytes keys, so no unhashable or odd keys reach us.
        obj = msgpack.unpackb(bytes(data), raw=False, strict_map_key=True, use_list=True)
    except Exception:  # msgpack raises a zoo: ValueError, ExtraData, FormatError, ...
        raise ProtocolError(ErrorCode.BAD_FRAME, "not a msgpack value") from None
    if type(obj) is not dict:
        raise ProtocolError(ErrorCode.BAD_FRAME, "a message must be a msgpack map")
    raw_id = obj.get("id")
    id = raw_id if type(raw_id) is int and 0 <= raw_id <= MAX_ID else None
    if obj.get("v") != VERSION or type(obj.get("v")) is not int:
        raise ProtocolError(
            ErrorCode.BAD_VERSION, f"unsupported protocol version; use {VERSION}", id
        )
    if id is None:
        raise ProtocolError(ErrorCode.BAD_FIELD, f"id must be an integer 0..{MAX_ID}")
    extra = [k for k in obj if k not in ENVELOPE_KEYS]
    if extra:
        raise ProtocolError(ErrorCode.BAD_FIELD, f"unknown envelope field {extra[0]!r}", id)
    type_ = obj.get("type")
    if type(type_) is not str:
        raise ProtocolError(ErrorCode.BAD_FIELD, "type must be a string", id)
    body = obj.get("body", {})
    if type(body) is not dict:
        raise ProtocolError(ErrorCode.BAD_FIELD, "body must be a map", id)
    return Request(id, parse_body(type_, body, id))


# --- encoding ---------------------------------------------------------------------------
def _pack(obj: dict[str, Any]) -> bytes:
    data: bytes = msgpack.packb(obj, use_bin_type=True)
    return data


def encode_reply(id: int, body: Mapping[str, Any] | None = None) -> bytes:
    return _pack({"v": VERSION, "type": "reply", "id": id, "ok": True, "body": dict(body or {})})


def encode_error(id: int | None, code: StrEnum, message: str) -> bytes:
    return _pack({"v": VERSION, "type": "error", "id": id, "code": code.value, "message": message})


def is_ephemeral(event: Event) -> bool:
    """A high-rate counter a core throttles itself (``EPHEMERAL = True`` on its class, e.g.
    ``sale.left``): sent without ``seq``, never journaled, never replayed on resume."""
    return bool(getattr(type(event), "EPHEMERAL", False))


def encode_event(event: Event, seq: int | None) -> bytes:
    """A room event; ``seq`` None for ephemeral events that resume does not replay."""
    frame: dict[str, Any] = {"v": VERSION, "type": event.TYPE}
    if seq is not None:
        frame["seq"] = seq
    frame["body"] = plain(event)
    return _pack(frame)


def encode_message(type_: str, body: Mapping[str, Any], seq: int | None = None) -> bytes:
    """A server message that is not a room event (``welcome``, ``media.speaking``)."""
    frame: dict[str, Any] = {"v": VERSION, "type": type_}
    if seq is not None:
        frame["seq"] = seq
    frame["body"] = dict(body)
    return _pack(frame)


@dataclass(frozen=True, slots=True)
class MediaSpeaking(Event):
    """Ephemeral voice-activity event from the media plane (no seq, never replayed)."""

    TYPE: ClassVar[str] = "media.speaking"
    user: str
    speaking: bool


@dataclass(frozen=True, slots=True)
class RoomCount(Event):
    """Ephemeral member count for everyone (staff alone get member.joined/left), sent by
    the room host at most every ``count_interval`` seconds and only when it changed."""

    TYPE: ClassVar[str] = "room.count"
    members: int


SERVER_MESSAGE_TYPES: Final = ("welcome", "reply", "error", MediaSpeaking.TYPE, RoomCount.TYPE)


def decode_server(data: bytes) -> dict[str, Any]:
    """Decode a server frame (for clients and tests)."""
    obj = msgpack.unpackb(data, raw=False)
    if not isinstance(obj, dict):
        raise ProtocolError(ErrorCode.BAD_FRAME, "server frame is not a map")
    return obj


def encode_request(type_: str, id: int, body: Mapping[str, Any] | None = None) -> bytes:
    """Encode a client request (for clients and tests)."""
    return _pack({"v": VERSION, "type": type_, "id": id, "body": dict(body or {})})
