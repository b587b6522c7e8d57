"""Webhook endpoints and deliveries: register, list, remove; inspect; redeliver by id."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from voiceroom.api.auth import Scope
from voiceroom.api.context import ApiError, Ctx, guard
from voiceroom.api.models import (
    DeliveryList,
    DeliveryOut,
    Done,
    EndpointCreate,
    EndpointCreated,
    EndpointList,
    EndpointOut,
)
from voiceroom.api.outbox import Delivery, State
from voiceroom.api.webhooks import Endpoint, WebhookConfigError, new_secret

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
MsgPath = Annotated[str, Path(pattern=r"^msg_[0-9a-f]{1,64}$")]


def _out(d: Delivery) -> DeliveryOut:
    return DeliveryOut(
        id=d.id,
        msg_id=d.msg_id,
        endpoint=d.endpoint,
        type=d.type,
        state=d.state.value,
        attempts=d.attempts,
        created_at=d.created_at,
        next_at=d.next_at,
        last_status=d.last_status,
        last_error=d.last_error,
        delivered_at=d.delivered_at,
        payload=json.loads(d.body),
    )


@router.get(
    "/endpoints",
    response_model=EndpointList,
    **guard(Scope.WEBHOOKS_READ),
    summary="Webhook endpoints (secrets are not shown)",
)
async def list_endpoints(ctx: Ctx) -> EndpointList:
    return EndpointList(
        endpoints=[
            EndpointOut(name=e.name, url=e.url, events=list(e.events))
            for e in ctx.webhooks.endpoints.values()
        ]
    )


@router.post(
    "/endpoints",
    status_code=201,
    response_model=EndpointCreated,
    **guard(Scope.WEBHOOKS_WRITE),
    summary="Add (or replace) a webhook endpoint",
)
async def add_endpoint(body: EndpointCreate, ctx: Ctx) -> EndpointCreated:
    try:
        endpoint = Endpoint(body.name, body.url, body.secret or new_secret(), tuple(body.events))
    except WebhookConfigError as exc:
        raise ApiError(HTTPStatus.BAD_REQUEST, "invalid_argument", str(exc)) from None
    await ctx.webhooks.save_endpoint(endpoint)
    return EndpointCreated(
        name=endpoint.name, url=endpoint.url, events=list(endpoint.events), secret=endpoint.secret
    )


@router.delete(
    "/endpoints/{name}",
    response_model=Done,
    **guard(Scope.WEBHOOKS_WRITE),
    summary="Remove an endpoint; what it still had pending is dead-lettered",
)
async def remove_endpoint(
    name: Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$")], ctx: Ctx
) -> Done:
    if not await ctx.webhooks.remove_endpoint(name):
        raise ApiError(HTTPStatus.NOT_FOUND, "endpoint_not_found", f"no endpoint {name!r}")
    return Done(seq=0)


@router.get(
    "/deliveries",
    response_model=DeliveryList,
    **guard(Scope.WEBHOOKS_READ),
    summary="Deliveries, newest first; state=dead lists the dead letters",
)
async def list_deliveries(
    ctx: Ctx,
    state: Annotated[Literal["pending", "delivered", "dead"] | None, Query()] = None,
    endpoint: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveryList:
    rows = await ctx.webhooks.outbox.deliveries(
        state=None if state is None else State(state), endpoint=endpoint, limit=limit
    )
    return DeliveryList(deliveries=[_out(r) for r in rows])


@router.get(
    "/messages/{msg_id}",
    response_model=DeliveryList,
    **guard(Scope.WEBHOOKS_READ),
    summary="Every delivery of one message (by its webhook-id)",
)
async def get_message(msg_id: MsgPath, ctx: Ctx) -> DeliveryList:
    rows = await ctx.webhooks.outbox.find(msg_id)
    if not rows:
        raise ApiError(HTTPStatus.NOT_FOUND, "message_not_found", f"no message {msg_id!r}")
    return DeliveryList(deliveries=[_out(r) for r in rows])


@router.post(
    "/messages/{msg_id}/redeliver",
    response_model=DeliveryList,
    **guard(Scope.WEBHOOKS_WRITE),
    summary="Send a message again (dead or delivered), same webhook-id, attempts reset",
)
async def redeliver(msg_id: MsgPath, ctx: Ctx) -> DeliveryList:
    rows = await ctx.webhooks.redeliver(msg_id)
    if not rows:
        raise ApiError(HTTPStatus.NOT_FOUND, "message_not_found", f"no message {msg_id!r}")
    return DeliveryList(deliveries=[_out(r) for r in rows])
