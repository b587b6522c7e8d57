"""A 1v1 over the wire: switching its mode in place (consult.set_mode), and speaking rings
of a private pair reaching only the pair (media.speaking follows who can hear)."""

from __future__ import annotations

from typing import Any

from .harness import Harness, ServerFactory
from .test_ws_media import FakeMediaRoom, media_server, until


def speaking_frames(client: Any, user: str) -> list[bool]:
    return [
        f["body"]["speaking"]
        for f in client.frames
        if f["type"] == "media.speaking" and f["body"]["user"] == user
    ]


async def test_switch_a_running_1v1_in_place(h: Harness) -> None:
    host = await h.join("host", "host")
    ann = await h.join("ann")
    bob = await h.join("bob")
    await host.ok("room.start_show")
    await host.ok("consult.start", {"user": "ann", "mode": "private"})
    kid = (await bob.next("consult.started"))["body"]["consultation"]["id"]
    assert await ann.fail("consult.set_mode", {"id": kid, "mode": "listen_in"}) == "forbidden"
    assert await host.fail("consult.set_mode", {"id": kid, "mode": "loud"}) == "invalid_argument"

    await host.ok("consult.set_mode", {"id": kid, "mode": "listen_in"})
    updated = await bob.next("consult.updated")
    assert updated["body"]["by"] == "host"
    assert updated["body"]["consultation"]["id"] == kid
    assert updated["body"]["consultation"]["mode"] == "listen_in"
    note = await bob.next(
        "chat.message", where=lambda f: f["body"]["message"]["code"] == "consultation_mode"
    )
    assert note["body"]["message"]["params"]["mode"] == "listen_in"
    routing = h.room().room.routing()
    assert routing.hears("bob", "ann") and routing.hears("bob", "host")
    # Nothing ended on the way: no consult.ended, the same id is still running.
    assert not [f for f in bob.frames if f["type"] == "consult.ended"]
    snap = (await bob.ok("sync"))["body"]["snapshot"]
    assert [(k["id"], k["mode"]) for k in snap["consultations"]] == [(kid, "listen_in")]

    await host.ok("consult.set_mode", {"id": kid, "mode": "private"})
    updated = await ann.next("consult.updated", where=lambda f: f["body"]["by"] == "host")
    assert updated["body"]["consultation"]["mode"] == "listen_in"  # the first switch
    updated = await ann.next("consult.updated")
    assert updated["body"]["consultation"]["mode"] == "private"
    assert not h.room().room.routing().hears("bob", "ann")


async def test_private_pair_rings_reach_only_the_pair(make_server: ServerFactory) -> None:
    h = await media_server(make_server)
    host = await h.join("host", "host")
    co = await h.join("co", "cohost")
    ann = await h.join("ann")
    bob = await h.join("bob")
    await host.ok("room.start_show")
    await ann.ok("media.offer", {"sdp": "v=0"})
    (media,) = FakeMediaRoom.instances
    await host.ok("consult.start", {"user": "ann", "mode": "private"})
    kid = (await bob.next("consult.started"))["body"]["consultation"]["id"]
    await until(lambda: media.routing is not None and not media.routing.hears("bob", "ann"))

    media.on_speaking("ann", True)
    await host.next("media.speaking", user="ann", speaking=True)  # her partner sees it
    await ann.next("media.speaking", user="ann", speaking=True)  # and so does she
    # Nobody else can hear her: no ring for the audience, nor for a co-host outside the call.
    late = await h.join("cat")
    assert late.welcome["body"]["speaking"] == []
    assert (await bob.ok("sync"))["body"]["speaking"] == []
    assert (await host.ok("sync"))["body"]["speaking"] == ["ann"]

    # Switched to listen-in while she talks: now everyone hears her, so the ring shows.
    await host.ok("consult.set_mode", {"id": kid, "mode": "listen_in"})
    await bob.next("media.speaking", user="ann", speaking=True)
    await co.next("media.speaking", user="ann", speaking=True)
    # Back to private: the audience's ring is taken back, not left frozen.
    await host.ok("consult.set_mode", {"id": kid, "mode": "private"})
    await bob.next("media.speaking", user="ann", speaking=False)
    await co.next("media.speaking", user="ann", speaking=False)
    media.on_speaking("ann", False)
    await host.next("media.speaking", user="ann", speaking=False)
    await host.ok("consult.end", {"id": kid})
    await bob.ok("sync")  # everything sent so far has arrived
    assert speaking_frames(bob, "ann") == [True, False]
    assert speaking_frames(late, "ann") == [True, False]
    assert speaking_frames(host, "ann") == [True, False]  # no repeats for the pair

    # The show's speakers stay visible to everyone, pair included.
    media.on_speaking("host", True)
    await bob.next("media.speaking", user="host", speaking=True)
