"""Rooms and join links: create, list, get (live state), reschedule, start, end; mint links.

Every change is a job on the room's stream calling a server-only entry point
(``RoomHost.server_command`` → ``Venue.handle_as_server``), so it is ordered with the
members' commands and its events reach members, history and webhooks like any other.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query

from voiceroom.api.auth import Scope
from voiceroom.api.context import ApiError, Ctx, RoomRecord, guard
from voiceroom.api.events import ShopEvent
from voiceroom.api.models import (
    ConsultationOut,
    LinkCreate,
    LinkOut,
    LiveState,
    Market,
    Phase,
    RoomCreate,
    RoomList,
    RoomOut,
    ScheduleUpdate,
    SeatOut,
)
from voiceroom.auth import issue_token
from voiceroom.room import commands as c
from voiceroom.room.errors import RuleError
from voiceroom.room.model import RoomConfig
from voiceroom.signalling.room_host import RoomHost

router = APIRouter(tags=["rooms"])
RoomPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


def live_view(host: RoomHost) -> tuple[LiveState, float | None]:
    """The server's view of a room (inside a room job): every seat, counts, 1v1s; and the
    scheduled start."""
    room = host.venue.room
    members = room.members
    seats = []
    for seat in room.seats:
        if seat.holder is None:
            seats.append(SeatOut(index=seat.index, status="locked" if seat.locked else "free"))
            continue
        m = members[seat.holder]
        seats.append(
            SeatOut(
                index=seat.index,
                status="taken",
                user=m.user,
                name=m.name,
                tier=m.tier,
                self_muted=m.user in room.self_muted,
                moderator_muted=m.user in room.moderator_muted,
            )
        )
    consults = [
        ConsultationOut(
            id=k.id,
            kind=k.kind.value,
            mode=k.mode.value,
            agent=k.staff,
            agent_name=members[k.staff].name,
            shopper=k.shopper,
            shopper_name=members[k.shopper].name,
            started_at=datetime.fromtimestamp(k.started_at, UTC),
        )
        for k in room.consultations.values()
    ]
    state = LiveState(
        phase=room.phase.value,
        seats=seats,
        queue_length=len(room.queue),
        requests_length=len(room.requests),
        member_count=len(members),
        connected_count=sum(1 for m in members.values() if m.connected),
        consultations=consults,
        seq=host.seq,
    )
    return state, room.show_starts_at


def _utc(at: float | None) -> datetime | None:
    return None if at is None else datetime.fromtimestamp(at, UTC)


def room_out(record: RoomRecord, live: LiveState | None) -> RoomOut:
    market = (
        None
        if record.market is None or record.time_zone is None
        else Market(name=record.market, time_zone=record.time_zone)
    )
    starts = _utc(record.starts_at)
    local = None
    if starts is not None and record.time_zone is not None:
        local = starts.astimezone(ZoneInfo(record.time_zone)).isoformat()
    phase: Phase = live.phase if live is not None else record.phase  # type: ignore[assignment]
    return RoomOut(
        id=record.id,
        title=record.title,
        market=market,
        phase=phase,
        starts_at=starts,
        starts_at_local=local,
        seat_count=record.seat_count,
        created_at=_utc(record.created_at),
        live=live,
    )


def _record(ctx: Ctx, room_id: str) -> RoomRecord:
    """The API's record (the event feed makes one for rooms a host opened by joining)."""
    record = ctx.records.get(room_id)
    if record is not None:
        return record
    if ctx.registry.get(room_id) is None:
        raise ApiError(HTTPStatus.NOT_FOUND, "room_not_found", f"no room {room_id!r}")
    seats = ctx.config.room.seat_count  # opened just now; its first event is on the way
    return RoomRecord(room_id, room_id, None, None, seats, None, None)


async def _get(ctx: Ctx, room_id: str) -> RoomOut:
    record = _record(ctx, room_id)
    host = ctx.registry.get(room_id)
    live = None
    if host is not None:
        try:
            live, record.starts_at = await host.call(lambda: live_view(host))
        except RuntimeError:
            live = None  # it closed meanwhile
    return room_out(record, live)


@router.post(
    "/rooms",
    status_code=201,
    response_model=RoomOut,
    **guard(Scope.ROOMS_WRITE),
    summary="Create a room (open at once: members may join before the show)",
)
async def create_room(body: RoomCreate, ctx: Ctx) -> RoomOut:
    room_id = body.id or "rm_" + secrets.token_hex(6)
    known = ctx.registry.get(room_id) is not None or room_id in ctx.registry.stored
    if known or room_id in ctx.records or ctx.registry.status(room_id).value == "ended":
        raise ApiError(HTTPStatus.CONFLICT, "room_exists", f"room {room_id!r} exists")
    if ctx.registry.closing:
        raise ApiError(HTTPStatus.SERVICE_UNAVAILABLE, "shutting_down", "server is shutting down")
    if ctx.registry.full:
        raise ApiError(HTTPStatus.SERVICE_UNAVAILABLE, "server_busy", "too many rooms")
    starts = None if body.starts_at is None else body.starts_at.timestamp()
    p = body.policies
    try:
        room_config = RoomConfig(
            seat_count=body.seat_count,
            max_members=p.max_members,
            chat_max_chars=p.chat_max_chars,
            tiers=tuple(p.tiers),
            warmup_open_seats=p.warmup_open_seats,
            private_duck_gain=p.private_duck_gain,
            reconnect_grace=p.reconnect_grace,
            show_starts_at=starts,
            invite_ttl=ctx.config.room.invite_ttl,
            queue_max=ctx.config.room.queue_max,
            chat_history=ctx.config.room.chat_history,
        )
    except RuleError as exc:
        raise ApiError(HTTPStatus.BAD_REQUEST, "invalid_argument", exc.message) from None
    now = ctx.clock()
    record = RoomRecord(
        room_id,
        body.title,
        body.market.name,
        body.market.time_zone,
        body.seat_count,
        starts,
        now,
    )
    ctx.records[room_id] = record
    meta = {
        "title": body.title,
        "market": body.market.name,
        "time_zone": body.market.time_zone,
        "created_at": now,  # the store keeps the time this answer gives
    }
    host = await ctx.registry.open(room_id, persistent=True, room_config=room_config, meta=meta)
    ctx.feed.publish(
        [
            ShopEvent(
                "room.scheduled",
                room_id,
                now,
                {
                    "room": room_id,
                    "title": body.title,
                    "market": body.market.name,
                    "time_zone": body.market.time_zone,
                    "phase": "warmup",
                    "show_starts_at": starts,
                },
            )
        ]
    )
    live, _ = await host.call(lambda: live_view(host))
    await ctx.webhooks.flush()
    return room_out(record, live)


@router.get(
    "/rooms",
    response_model=RoomList,
    **guard(Scope.ROOMS_READ),
    summary="List rooms, optionally by state and market",
)
async def list_rooms(
    ctx: Ctx,
    state: Annotated[Phase | None, Query(description="warmup, show or ended")] = None,
    market: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> RoomList:
    # Records only (kept in step by the event feed): no room's state is read here.
    ids = list(dict.fromkeys([*ctx.records, *ctx.registry.rooms]))
    out: list[RoomOut] = []
    for room_id in ids:
        if len(out) >= limit:
            break
        record = ctx.records.get(room_id) or _record(ctx, room_id)
        if market is not None and record.market != market:
            continue
        if state is None or record.phase == state:
            out.append(room_out(record, None))
    return RoomList(rooms=out)


@router.get(
    "/rooms/{room_id}",
    response_model=RoomOut,
    **guard(Scope.ROOMS_READ),
    summary="A room with its live state (phase, seats, queue, members, 1v1s)",
)
async def get_room(room_id: RoomPath, ctx: Ctx) -> RoomOut:
    return await _get(ctx, room_id)


@router.put(
    "/rooms/{room_id}/schedule",
    response_model=RoomOut,
    **guard(Scope.ROOMS_WRITE),
    summary="Set or clear the show's start (warm-up only)",
)
async def update_schedule(room_id: RoomPath, body: ScheduleUpdate, ctx: Ctx) -> RoomOut:
    starts = None if body.starts_at is None else body.starts_at.timestamp()
    await ctx.change(room_id, lambda h: h.server_command(c.ScheduleShow(starts)))
    await ctx.webhooks.flush()
    record = ctx.records.get(room_id)
    if record is not None:
        record.starts_at = starts
    return await _get(ctx, room_id)


@router.post(
    "/rooms/{room_id}/start",
    response_model=RoomOut,
    **guard(Scope.ROOMS_WRITE),
    summary="Start the show (warm-up → show)",
)
async def start_show(room_id: RoomPath, ctx: Ctx) -> RoomOut:
    await ctx.change(room_id, lambda h: h.server_command(c.StartShow()))
    await ctx.webhooks.flush()
    return await _get(ctx, room_id)


@router.post(
    "/rooms/{room_id}/end",
    response_model=RoomOut,
    **guard(Scope.ROOMS_WRITE),
    summary="End the room: everyone is disconnected, nobody may join again",
)
async def end_room(room_id: RoomPath, ctx: Ctx) -> RoomOut:
    await ctx.change(room_id, lambda h: h.server_command(c.EndRoom()))
    await ctx.webhooks.flush()
    record = _record(ctx, room_id)
    record.phase = "ended"
    ctx.records.setdefault(room_id, record)
    return room_out(record, None)


@router.post(
    "/rooms/{room_id}/links",
    status_code=201,
    response_model=LinkOut,
    **guard(Scope.LINKS_WRITE),
    summary="Mint a join link (signed join token) for one user",
)
async def create_link(room_id: RoomPath, body: LinkCreate, ctx: Ctx) -> LinkOut:
    ctx.host(room_id)  # 404 / 409 for rooms nobody can join
    now = ctx.clock()
    token = issue_token(
        ctx.config.secret,
        room=room_id,
        user=body.user,
        name=body.name,
        role=body.role,
        tier=body.tier,
        locale=body.locale,
        ttl=body.ttl,
        now=now,
    )
    base = (ctx.config.public_url or ctx.page_base).rstrip("/")
    return LinkOut(
        url=f"{base}/?token={token}",
        token=token,
        expires_at=datetime.fromtimestamp(int(now) + body.ttl, UTC),
    )
