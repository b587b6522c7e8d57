"""The wire schema: envelope, generic body validation, typed errors, fuzzing."""

from __future__ import annotations

import contextlib
import dataclasses
import math

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voiceroom import protocol as p
from voiceroom.commerce import commands as shop_commands
from voiceroom.games import commands as games_commands
from voiceroom.room import commands as c
from voiceroom.room.errors import ErrorCode


def frame(**obj: object) -> bytes:
    return msgpack.packb(obj)


def req(type_: str, body: object = None, id: int = 1) -> bytes:
    return frame(v=1, type=type_, id=id, body={} if body is None else body)


def code_of(data: bytes | str) -> ErrorCode:
    with pytest.raises(p.ProtocolError) as info:
        p.decode(data)
    return info.value.code


def test_decodes_a_command_with_its_id() -> None:
    r = p.decode(req("seat.take", {"seat": 3}, id=17))
    assert r.id == 17 and r.message == c.TakeSeat(seat=3) and r.type == "seat.take"


def test_optional_fields_may_be_absent_or_null() -> None:
    assert p.decode(req("seat.take")).message == c.TakeSeat()
    assert p.decode(req("seat.take", {"seat": None})).message == c.TakeSeat(seat=None)


def test_float_field_accepts_an_integer_but_int_field_refuses_a_float() -> None:
    assert p.decode(req("room.schedule", {"starts_at": 5})).message == c.ScheduleShow(5.0)
    assert p.decode(req("room.schedule", {})).message == c.ScheduleShow(None)  # default
    assert code_of(req("seat.take", {"seat": 2.0})) is ErrorCode.BAD_FIELD


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\xc1", ErrorCode.BAD_FRAME),  # never-used msgpack byte
        (b"", ErrorCode.BAD_FRAME),
        (msgpack.packb([1, 2]), ErrorCode.BAD_FRAME),  # not a map
        (msgpack.packb({1: 2}), ErrorCode.BAD_FRAME),  # non-string key
        ("text", ErrorCode.BAD_FRAME),  # text frame
        (b"\x00" * (p.MAX_FRAME_BYTES + 1), ErrorCode.BAD_FRAME),
        (frame(v=2, type="ping", id=1), ErrorCode.BAD_VERSION),
        (frame(type="ping", id=1), ErrorCode.BAD_VERSION),
        (frame(v=True, type="ping", id=1), ErrorCode.BAD_VERSION),
        (frame(v=1, type="ping"), ErrorCode.BAD_FIELD),  # no id
        (frame(v=1, type="ping", id=-1), ErrorCode.BAD_FIELD),
        (frame(v=1, type="ping", id=True), ErrorCode.BAD_FIELD),
        (frame(v=1, type="ping", id=1, extra=1), ErrorCode.BAD_FIELD),
        (frame(v=1, type=7, id=1), ErrorCode.BAD_FIELD),
        (frame(v=1, type="ping", id=1, body=[]), ErrorCode.BAD_FIELD),
        (req("no.such"), ErrorCode.UNKNOWN_TYPE),
        (req("chat.send"), ErrorCode.BAD_FIELD),  # missing field
        (req("chat.send", {"text": "hi", "x": 1}), ErrorCode.BAD_FIELD),  # extra field
        (req("chat.send", {"text": 5}), ErrorCode.BAD_FIELD),
        (req("chat.send", {"text": "x" * (p.MAX_STR_CHARS + 1)}), ErrorCode.BAD_FIELD),
        (req("seat.take", {"seat": True}), ErrorCode.BAD_FIELD),  # bool is not int
        (req("seat.take", {"seat": 2**60}), ErrorCode.BAD_FIELD),
        (req("music.play", {"track": "a", "loop": 1}), ErrorCode.BAD_FIELD),  # int not bool
        (req("room.schedule", {"starts_at": math.inf}), ErrorCode.BAD_FIELD),
        (req("room.schedule", {"starts_at": math.nan}), ErrorCode.BAD_FIELD),
        (req("chat.send", {"text": b"bytes"}), ErrorCode.BAD_FIELD),
        (req("chat.send", {"text": ["a"]}), ErrorCode.BAD_FIELD),
    ],
)
def test_bad_input_is_a_typed_error(data: bytes | str, code: ErrorCode) -> None:
    assert code_of(data) is code


def test_error_keeps_the_request_id_when_readable() -> None:
    with pytest.raises(p.ProtocolError) as info:
        p.decode(req("seat.take", {"seat": "x"}, id=99))
    assert info.value.id == 99


def test_every_command_and_control_has_a_schema() -> None:
    controls = {"ping", "sync", "leave", "media.offer", "media.ice"}
    assert set(p.SCHEMAS) == (
        set(c.COMMANDS) | set(shop_commands.COMMANDS) | set(games_commands.COMMANDS) | controls
    )
    assert p.STR_CAPS[("media.offer", "sdp")] > p.MAX_STR_CHARS


def test_encoders_round_trip() -> None:
    reply = p.decode_server(p.encode_reply(3, {"seq": 9}))
    assert reply == {"v": 1, "type": "reply", "id": 3, "ok": True, "body": {"seq": 9}}
    err = p.decode_server(p.encode_error(4, ErrorCode.SEAT_TAKEN, "taken"))
    assert err == {"v": 1, "type": "error", "id": 4, "code": "seat_taken", "message": "taken"}
    ev = p.decode_server(p.encode_event(p.MediaSpeaking("u1", True), None))
    assert ev == {"v": 1, "type": "media.speaking", "body": {"user": "u1", "speaking": True}}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_fuzz_any_bytes_decode_or_protocol_error(data: bytes) -> None:
    with contextlib.suppress(p.ProtocolError):
        p.decode(data)


json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=20)
    | st.binary(),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([*sorted(p.MESSAGES), "bogus"]),
    st.dictionaries(st.sampled_from(["seat", "user", "text", "id", "mode", "x"]), json_like),
    st.one_of(st.integers(-(2**63), 2**64 - 1), st.none(), st.booleans()),
)
def test_fuzz_structured_bodies(type_: str, body: dict[str, object], id: object) -> None:
    data = msgpack.packb({"v": 1, "type": type_, "id": id, "body": body})
    try:
        r = p.decode(data)
    except p.ProtocolError:
        return
    assert isinstance(r.message, p.MESSAGES[type_])


# --- wire form: plain() is dataclasses.asdict, only faster --------------------------------
def _wire_types() -> list[type]:
    """Every event of every core, and every view and snapshot class they are built of."""
    from voiceroom.commerce import core as shop_core
    from voiceroom.commerce import events as shop_events
    from voiceroom.games import events as games_events
    from voiceroom.room import core as room_core
    from voiceroom.room import events as room_events
    from voiceroom.room import model as room_model

    found: list[type] = [
        *room_events.EVENT_TYPES,
        *shop_events.EVENT_TYPES,
        *games_events.EVENT_TYPES,
        room_core.Snapshot,
        shop_core.ShopSnapshot,
        # games_core.GamesSnapshot has ``Any`` fields, for which hypothesis draws objects
        # (exceptions) that equal only themselves: the populated venue below covers it.
    ]
    for module in (room_model, shop_events):
        found += [
            v
            for name, v in vars(module).items()
            if name.endswith("View") and isinstance(v, type) and dataclasses.is_dataclass(v)
        ]
    return found


@pytest.mark.parametrize("cls", _wire_types(), ids=lambda c: c.__name__)
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_plain_equals_asdict(cls: type, data: st.DataObject) -> None:
    from voiceroom.wire_form import plain

    value = data.draw(st.from_type(cls))
    got, want = plain(value), dataclasses.asdict(value)
    assert got == want
    assert repr(got) == repr(want)  # the same container types too (tuple is not list)


def test_plain_of_a_populated_venue_equals_asdict() -> None:
    """A room with seats taken, a queue, chat, a product on sale and games, as each
    member sees it: Venue.snapshot (plain) against asdict of the same views."""
    from voiceroom.commerce import commands as sc
    from voiceroom.room.model import Profile, Role
    from voiceroom.venue import Venue

    v = Venue("wire")
    v.join(Profile("h", "Host", Role.HOST), 0.0)
    for i in range(5):
        v.join(Profile(f"u{i}", f"U{i}", Role.LISTENER), 0.0)
    v.handle("h", c.StartShow(), 1.0)
    v.handle("u0", c.RaiseHand(), 1.5)
    v.handle("u1", c.SendChat("hello"), 1.6)
    v.handle("h", sc.AddProduct("bag", {"en": "Bag", "ar": "حقيبة"}, 12_900, "SAR", 10), 2.0)
    v.handle("h", sc.StartSale("bag", 9_900, 5, 60.0), 3.0)
    for viewer in ("h", "u0", "u3"):
        body = v.snapshot(viewer)
        actor = v.room.actor(viewer)
        want = dataclasses.asdict(v.room.snapshot(viewer))
        for core in v.cores:
            want[core.NAME] = dataclasses.asdict(core.snapshot(actor))
        assert body == want
        assert repr(body) == repr(want)
        assert body["shop"]["sales"]
