"""Participants (list, mute a seat, remove, set role, set tier) and history (chat, 1v1 log)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from voiceroom.api.auth import Scope
from voiceroom.api.context import Ctx, guard
from voiceroom.api.models import (
    ChatMessageOut,
    ChatPage,
    ConsultationLog,
    ConsultationLogEntry,
    Done,
    MuteUpdate,
    ParticipantList,
    ParticipantOut,
    RoleUpdate,
    TierUpdate,
)
from voiceroom.room import commands as c
from voiceroom.signalling.room_host import RoomHost

router = APIRouter(tags=["participants"])
history_router = APIRouter(tags=["history"])
RoomPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
UserPath = Annotated[str, Path(min_length=1, max_length=128)]


def _participants(host: RoomHost) -> ParticipantList:
    room = host.venue.room
    in_consult = {u for k in room.consultations.values() for u in (k.staff, k.shopper)}
    return ParticipantList(
        participants=[
            ParticipantOut(
                user=m.user,
                name=m.name,
                role=m.role.value,
                tier=m.tier,
                locale=m.locale,
                connected=m.connected,
                seat=room.seat_of(m.user),
                queued=m.user in room.queue,
                in_consultation=m.user in in_consult,
            )
            for m in room.members.values()
        ]
    )


@router.get(
    "/rooms/{room_id}/participants",
    response_model=ParticipantList,
    **guard(Scope.ROOMS_READ),
    summary="Everyone in the room now (including those within the reconnect grace)",
)
async def list_participants(room_id: RoomPath, ctx: Ctx) -> ParticipantList:
    return await ctx.in_room(room_id, _participants)


@router.put(
    "/rooms/{room_id}/seats/{seat}/mute",
    response_model=Done,
    **guard(Scope.PARTICIPANTS_WRITE),
    summary="Moderator-mute (or unmute) the holder of a seat",
)
async def mute_seat(
    room_id: RoomPath, seat: Annotated[int, Path(ge=0, le=64)], body: MuteUpdate, ctx: Ctx
) -> Done:
    cmd: c.Command = c.MuteSeat(seat) if body.muted else c.UnmuteSeat(seat)
    seq = await ctx.change(room_id, lambda h: h.server_command(cmd))
    await ctx.webhooks.flush()
    return Done(seq=seq)


@router.delete(
    "/rooms/{room_id}/participants/{user}",
    response_model=Done,
    **guard(Scope.PARTICIPANTS_WRITE),
    summary="Remove a participant; they cannot rejoin this room",
)
async def remove_participant(room_id: RoomPath, user: UserPath, ctx: Ctx) -> Done:
    seq = await ctx.change(room_id, lambda h: h.server_command(c.Kick(user)))
    await ctx.webhooks.flush()
    return Done(seq=seq)


@router.put(
    "/rooms/{room_id}/participants/{user}/role",
    response_model=Done,
    **guard(Scope.PARTICIPANTS_WRITE),
    summary="Make a participant co-host, agent or listener (the host role is fixed)",
)
async def set_role(room_id: RoomPath, user: UserPath, body: RoleUpdate, ctx: Ctx) -> Done:
    seq = await ctx.change(room_id, lambda h: h.server_command(c.SetRole(user, body.role)))
    await ctx.webhooks.flush()
    return Done(seq=seq)


@router.put(
    "/rooms/{room_id}/participants/{user}/tier",
    response_model=Done,
    **guard(Scope.PARTICIPANTS_WRITE),
    summary="Change a participant's tier (e.g. the shop made them VIP)",
)
async def set_tier(room_id: RoomPath, user: UserPath, body: TierUpdate, ctx: Ctx) -> Done:
    seq = await ctx.change(room_id, lambda h: h.set_tier(user, body.tier))
    await ctx.webhooks.flush()
    return Done(seq=seq)


def _known(ctx: Ctx, room_id: str) -> None:
    if ctx.registry.get(room_id) is None and room_id not in ctx.records:
        ctx.host(room_id)  # raises the right 404 / 409


@history_router.get(
    "/rooms/{room_id}/chat",
    response_model=ChatPage,
    **guard(Scope.HISTORY_READ),
    summary="Chat messages after a message id, oldest first (paginated)",
)
async def chat(
    room_id: RoomPath,
    ctx: Ctx,
    after: Annotated[int, Query(ge=0, le=2**53)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ChatPage:
    _known(ctx, room_id)
    rows = await ctx.history.chat(room_id, after=after, limit=limit + 1)
    page = [ChatMessageOut.model_validate(r) for r in rows[:limit]]
    return ChatPage(messages=page, next_after=page[-1].id if len(rows) > limit else None)


@history_router.get(
    "/rooms/{room_id}/consultations",
    response_model=ConsultationLog,
    **guard(Scope.HISTORY_READ),
    summary="Every 1v1 consultation: agent, shopper, start, end, duration",
)
async def consultations(room_id: RoomPath, ctx: Ctx) -> ConsultationLog:
    _known(ctx, room_id)
    rows = await ctx.history.consultations(room_id)
    return ConsultationLog(consultations=[ConsultationLogEntry.model_validate(r) for r in rows])
