"""A flash sale survives SIGKILL: a real ``voiceroom serve`` on SQLite, real WebSocket
claimants, the server killed in the middle of the claim burst and restarted on the same
store.

Checked after each restart, from what the restarted server tells each claimant
(``snapshot.shop.your_claims``): every claim that was acknowledged before the crash is
there, with its id; nobody who was told ``sold_out`` has one; a claim whose answer was lost
in the crash is there or not, never twice (it is there only if it was committed, and then
the claimant learns it now); nobody is over the limit and never more claims than units.
Then the claimants without a claim try again until the sale is sold out: exactly
``quantity`` claims in the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.signalling.vr_client import Client
from tests.store.test_crash import ServerProc
from voiceroom.auth import issue_token

pytestmark = pytest.mark.slow

SECRET = "crash-test-secret-0123456789abcdefgh"  # tests.store.test_crash's server secret
ROOM = "sale"
CLAIMANTS = int(os.environ.get("VOICEROOM_CLAIM_CRASH_CLAIMANTS", "1000"))
QUANTITY = 100
KILLS = 2
SPREAD = 10.0  # seconds over which one round's claims are sent: ~100 claims/s


def token(user: str, role: str = "listener") -> str:
    return issue_token(SECRET, room=ROOM, user=user, name=user, role=role)


async def connect(server: ServerProc, user: str, role: str = "listener") -> Client:
    return await Client.open(f"ws://127.0.0.1:{server.port}/ws?token={token(user, role)}")


async def join_all(server: ServerProc, users: list[str]) -> dict[str, Client]:
    clients: dict[str, Client] = {}
    for i in range(0, len(users), 50):
        batch = users[i : i + 50]
        for user, client in zip(
            batch, await asyncio.gather(*(connect(server, u) for u in batch)), strict=True
        ):
            clients[user] = client
    return clients


def claims_in(client: Client) -> list[int]:
    shop = client.welcome["body"]["snapshot"]["shop"]
    return [k["id"] for k in shop["your_claims"] if k["sale"] == 1]


class Burst:
    """One round of claims, sent over ``SPREAD`` s; ``hit`` is set once ``kill_at`` of
    them were answered, so the server is killed while claims are still coming in."""

    def __init__(self, kill_at: int) -> None:
        self.kill_at = kill_at
        self.answered = 0
        self.hit = asyncio.Event()
        self.dead = asyncio.Event()  # the server was killed: claims not sent yet are not

    async def claim(self, client: Client, delay: float) -> tuple[str, Any]:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.dead.wait(), delay)
            return "unsent", None
        try:
            frame = await client.request("sale.claim", {"sale": 1})
        except Exception:
            return "unknown", None  # the server died before answering
        self.answered += 1
        if self.answered >= self.kill_at:
            self.hit.set()
        if frame["type"] != "reply":
            return str(frame["code"]), None
        told = await client.next("sale.claimed", wait=5)  # sent before the reply
        return "ok", told["body"]["claim"]["id"]


async def test_claims_survive_sigkill_in_the_middle(tmp_path: Path) -> None:
    rng = random.Random(os.environ.get("VOICEROOM_CRASH_SEED", "10"))
    server = ServerProc(f"sqlite:///{tmp_path / 'shop.db'}", tmp_path)
    users = [f"c{i:04d}" for i in range(CLAIMANTS)]
    acked: dict[str, int] = {}
    refused: set[str] = set()
    try:
        await server.start()
        host = await connect(server, "host", "host")
        await host.ok(
            "product.add",
            {
                "id": "oud",
                "titles": {"en": "Oud"},
                "price": 49500,
                "currency": "SAR",
                "stock": QUANTITY,
            },
        )
        clients = await join_all(server, users)
        await host.ok(
            "sale.start", {"product": "oud", "price": 39900, "quantity": QUANTITY, "duration": 900}
        )
        await asyncio.gather(
            *(
                c.next("sale.updated", lambda f: f["body"]["reason"] == "opened", wait=30)
                for c in clients.values()
            )
        )
        pending = list(users)
        for kill in range(KILLS + 1):
            # Kill once a random number of this round's claims were answered, before the
            # units run out when some are left (acknowledged, lost and refused claims).
            burst = Burst(rng.randint(1, max(1, (QUANTITY - len(acked)) // 2)))
            # Claims arrive over ~SPREAD seconds (all clients connected and claiming), so
            # the kill lands while claims are still coming in and being committed.
            tasks = {
                u: asyncio.create_task(burst.claim(clients[u], i * SPREAD / len(pending)))
                for i, u in enumerate(pending)
            }
            if kill < KILLS:
                await asyncio.wait_for(burst.hit.wait(), 60)
                server.kill(signal.SIGKILL)
                await server.wait()
                burst.dead.set()
            results = {u: await t for u, t in tasks.items()}
            if kill < KILLS:  # the crash came in the middle of the round's claims
                assert any(o in ("unknown", "unsent") for o, _ in results.values())
            for u, (outcome, claim_id) in results.items():
                if outcome == "ok":
                    acked[u] = claim_id
                elif outcome == "sold_out":
                    refused.add(u)
                else:
                    assert outcome in ("unknown", "unsent"), (u, outcome)
            unknown = {u for u, (o, _) in results.items() if o == "unknown"}
            unsent = sum(o == "unsent" for o, _ in results.values())
            print(
                f"round {kill}: acked {len(acked)}, sold out {len(refused)},"
                f" lost {len(unknown)}, not sent {unsent}"
            )
            if kill == KILLS:
                break
            for c in [host, *clients.values()]:
                with contextlib.suppress(Exception):
                    await c.drop()
            await server.start()
            host = await connect(server, "host", "host")
            clients = await join_all(server, users)
            after = {u: claims_in(c) for u, c in clients.items()}
            # Acknowledged before the crash: still there, same id. Told sold out: none.
            for u, claim_id in acked.items():
                assert after[u] == [claim_id], (u, claim_id, after[u])
            for u in refused:
                assert after[u] == [], u
            assert all(len(ids) <= 1 for ids in after.values())
            assert sum(len(ids) for ids in after.values()) <= QUANTITY
            # A lost answer whose claim was committed: the claimant learns it now.
            learned = [u for u in unknown if after[u]]
            for u in learned:
                acked[u] = after[u][0]
            print(f"  after the restart: {len(learned)} lost answers were committed claims")
            pending = [u for u in users if u not in acked and u not in refused]
            if not pending:
                break
        # The end: exactly QUANTITY claims, one each, every claimant knows.
        final = {u: claims_in(await connect(server, u)) for u in users}
        assert sum(len(ids) for ids in final.values()) == QUANTITY
        assert {u: ids[0] for u, ids in final.items() if ids} == acked
        sale = (await host.ok("sync"))["body"]["snapshot"]["shop"]["sales"][0]
        assert sale["left"] == 0 and sale["state"] == "sold_out"
    finally:
        await server.stop()
