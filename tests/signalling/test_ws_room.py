"""Room flows end to end over real WebSockets on loopback."""

from __future__ import annotations

from voiceroom.room.routing import MUSIC_SOURCE

from .harness import Harness


async def test_warmup_free_seats_then_show_start(h: Harness) -> None:
    host = await h.join("host", "host")
    ann = await h.join("ann")
    assert host.welcome["body"]["snapshot"]["phase"] == "warmup"
    assert await ann.fail("seat.take", {"seat": 0}) == "seat_reserved"
    await ann.ok("seat.take")  # any free seat during warm-up
    ev = await host.next(
        "seat.updated", reason="taken", where=lambda f: f["body"]["seat"]["user"] == "ann"
    )
    assert ev["body"]["seat"]["index"] == 1
    await ann.ok("chat.send", {"text": "hi all"})
    await host.next("chat.message", where=lambda f: f["body"]["message"]["text"] == "hi all")

    await host.ok("room.start_show")
    for c in (host, ann):
        await c.next("room.phase", phase="show")
        await c.next("chat.message", where=lambda f: f["body"]["message"]["code"] == "show_started")
    bob = await h.join("bob")
    assert bob.welcome["body"]["snapshot"]["phase"] == "show"
    assert await bob.fail("seat.take") == "seat_policy"
    assert await ann.fail("room.start_show") == "forbidden"


async def test_vip_ahead_of_new_promote_mute_kick(h: Harness) -> None:
    host = await h.join("host", "host")
    new = await h.join("newbie", tier="new")
    vip = await h.join("vip", tier="vip")
    assert await new.fail("queue.join") == "wrong_phase"  # the queue opens with the show
    await host.ok("room.start_show")

    await new.ok("queue.join")
    await new.next("queue.position", position=1, reason="joined")
    await vip.ok("queue.join")
    await vip.next("queue.position", position=1, reason="joined")
    await new.next("queue.position", position=2, reason="moved")
    q = await host.next("queue.updated", where=lambda f: len(f["body"]["entries"]) == 2)
    assert [e["user"] for e in q["body"]["entries"]] == ["vip", "newbie"]
    assert not vip.saw("queue.updated")  # the full queue is for moderators

    await host.ok("queue.promote")  # the head: the VIP
    ev = await vip.next("seat.updated", reason="promoted")
    seat = ev["body"]["seat"]["index"]
    assert ev["body"]["seat"]["user"] == "vip"
    await vip.next("queue.position", position=None, reason="promoted")

    await host.ok("seat.mute", {"seat": seat})
    await vip.next("seat.updated", reason="moderator_muted")
    assert await vip.fail("mic.unmute") == "muted_by_moderator"
    assert await vip.fail("seat.mute", {"seat": 0}) == "forbidden"
    assert "vip" not in h.room().room.routing().publishers  # a muted seat is not mixed

    await host.ok("room.kick", {"user": "newbie"})
    left = await new.next("member.left")
    assert left["body"] == {"user": "newbie", "reason": "kicked"}
    assert (await new.closed())[0] == 4003
    await host.next("member.left", user="newbie", reason="kicked")
    await vip.ok("chat.send", {"text": "still here"})  # the others carry on


async def test_consultation_switch_both_modes_preserves_seats_and_queue(h: Harness) -> None:
    host = await h.join("host", "host")
    ann = await h.join("ann", tier="vip")
    bob = await h.join("bob")
    cat = await h.join("cat")
    await ann.ok("seat.take")  # warm-up seat
    await host.ok("room.start_show")
    await bob.ok("queue.join")
    before = (await host.ok("sync"))["body"]["snapshot"]

    for mode in ("listen_in", "private"):
        reply = await host.ok("consult.start", {"user": "cat", "mode": mode})
        assert reply["body"]["seq"] >= 1
        started = await bob.next("consult.started")
        kid = started["body"]["consultation"]["id"]
        assert started["body"]["consultation"]["mode"] == mode
        routing = h.room().room.routing()
        if mode == "listen_in":  # the room hears the pair, only the pair
            assert {s for s, _ in routing.mix_for("bob")} == {"host", "cat"}
        else:  # the pair hear each other only; the show goes on with ann's seat
            assert routing.mix_for("cat") == (("host", 1.0),)
            assert not routing.hears("bob", "cat") and not routing.hears("bob", "host")
            assert routing.hears("bob", "ann")
        await host.ok("consult.end", {"id": kid})
        await cat.next("consult.ended", id=kid)
        after = (await host.ok("sync"))["body"]["snapshot"]
        assert after["seats"] == before["seats"]
        assert after["queue"] == before["queue"]
        assert after["consultations"] == []
    assert MUSIC_SOURCE not in h.room().room.routing().sources()


async def test_agent_consultation_flow(h: Harness) -> None:
    await h.join("host", "host")
    agent = await h.join("sara", "agent")
    ann = await h.join("ann", tier="vip")
    bob = await h.join("bob")
    await ann.ok("consult.request", {"note": "the gold ring"})
    await ann.next("consult.request_status", position=1, reason="joined")
    reqs = await agent.next("consult.requests", where=lambda f: len(f["body"]["requests"]) == 1)
    assert reqs["body"]["requests"][0]["note"] == "the gold ring"
    assert await bob.fail("consult.accept") == "forbidden"

    await agent.ok("consult.accept")
    started = await ann.next("consult.started")
    k = started["body"]["consultation"]
    assert (k["kind"], k["mode"], k["staff"], k["shopper"]) == ("agent", "private", "sara", "ann")
    await agent.next("consult.started")
    assert not bob.saw("consult.started")  # a private call is nobody else's business
    routing = h.room().room.routing()
    assert routing.mix_for("ann") == (("sara", 1.0),) and not routing.hears("bob", "ann")

    await ann.ok("consult.end", {"id": k["id"]})
    await agent.next("consult.ended", id=k["id"], reason="ended")
