"""The room's shop (products, sales with units left, claims) and games (current rounds and
latest results), read live from the venue as a job on the room's stream — the handler never
reads room state beside it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from voiceroom.api.auth import Scope
from voiceroom.api.context import Ctx, guard
from voiceroom.api.models import GamesOut, ShopOut
from voiceroom.commerce.core import Shop
from voiceroom.games.core import Games
from voiceroom.signalling.room_host import RoomHost

router = APIRouter(tags=["history"])
RoomPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


def _core(host: RoomHost, kind: type[Any]) -> Any:
    return next(core for core in host.venue.cores if isinstance(core, kind))


def _shop(host: RoomHost) -> ShopOut:
    shop: Shop = _core(host, Shop)
    snap = shop.snapshot(None)  # no viewer: nobody's own coupons
    return ShopOut(
        room=host.id,
        products=list(snap.products),
        showing=snap.showing,
        sales=list(snap.sales),
        claims=list(shop.claims()),
        coupons=list(snap.coupons),
        groups=list(snap.groups),
    )


def _games(host: RoomHost) -> GamesOut:
    games: Games = _core(host, Games)
    snap = games.snapshot(None)  # no viewer: no guess-the-price answer, no one's own vote
    return GamesOut(
        room=host.id,
        lottery=snap.lottery,
        last_draw=snap.last_draw,
        guess=snap.guess,
        guess_count=snap.guess_count,
        last_guess=snap.last_guess,
        vote=snap.vote,
        vote_tallies=None if snap.vote_tallies is None else list(snap.vote_tallies),
        last_vote=snap.last_vote,
        leaderboard={k: list(v) for k, v in snap.leaderboard.items()},
    )


@router.get(
    "/rooms/{room_id}/shop",
    response_model=ShopOut,
    **guard(Scope.HISTORY_READ),
    summary="A live room's shop: products, sales with units left, claims, coupon drops, group buys",
)
async def shop(room_id: RoomPath, ctx: Ctx) -> ShopOut:
    return await ctx.in_room(room_id, _shop)


@router.get(
    "/rooms/{room_id}/games",
    response_model=GamesOut,
    **guard(Scope.HISTORY_READ),
    summary="A live room's games: open lottery, guess and vote, latest results, leaderboards",
)
async def games(room_id: RoomPath, ctx: Ctx) -> GamesOut:
    return await ctx.in_room(room_id, _games)
