"""Run inside the test's "home" namespace: a host speaks a tone, a listener must hear it.

``python -m tests.net.nat_peer '{"url": ..., "host": TOKEN, "listener": TOKEN, ...}'``
prints one JSON line: the tone level each side heard and the ICE pair each one nominated.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from voiceroom.client import MediaPeer, RoomClient
from voiceroom.client.errors import ClientError, JoinRefused

HOST_HZ = 440.0


async def join(url: str, token: str, deadline: float) -> RoomClient:
    """The server may still be starting in its namespace: retry until ``deadline``."""
    while True:
        try:
            return await RoomClient.join(url, token, open_timeout=3.0)
        except (OSError, JoinRefused, TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)


async def listen(args: dict[str, Any]) -> dict[str, Any]:
    """Only a listener: hear ``hz`` (someone else speaks, e.g. a browser)."""
    client = await join(args["url"], args["listener"], time.monotonic() + 30)
    out: dict[str, Any] = {}
    try:
        peer = await MediaPeer.connect(
            client, connect_timeout=float(args.get("connect_timeout", 15))
        )
        out["listener_pair"] = peer.selected
        try:
            out["level"] = await peer.wait_for_tone(float(args["hz"]), threshold=0.02, timeout=15)
        except TimeoutError:
            out["level"] = peer.tone_level(float(args["hz"]))
        await peer.close()
    except ClientError as exc:
        out["error"] = str(exc)
    finally:
        await client.close()
    return out


async def main(args: dict[str, Any]) -> dict[str, Any]:
    if args.get("listen_only"):
        return await listen(args)
    deadline = time.monotonic() + 30
    options = {"connect_timeout": float(args.get("connect_timeout", 15.0))}
    host = await join(args["url"], args["host"], deadline)
    out: dict[str, Any] = {
        "session": {
            k: host.session.get(k)
            for k in ("ice_servers", "ice_transport_policy", "ice_expires_at", "address")
        }
    }
    try:
        t0 = time.monotonic()
        host_peer = await MediaPeer.connect(host, **options)
        out["host_connect_s"] = round(time.monotonic() - t0, 2)
        out["host_pair"] = host_peer.selected
        host_peer.publish_tone(HOST_HZ)
        listener = await join(args["url"], args["listener"], deadline)
        try:
            t0 = time.monotonic()
            peer = await MediaPeer.connect(listener, **options)
            out["listener_connect_s"] = round(time.monotonic() - t0, 2)
            out["listener_pair"] = peer.selected
            try:
                out["level"] = await peer.wait_for_tone(HOST_HZ, threshold=0.05, timeout=10)
            except TimeoutError:
                out["level"] = peer.tone_level(HOST_HZ)
            await asyncio.sleep(1.0)
            out["level_1s"] = peer.tone_level(HOST_HZ, seconds=1.0)
            if args.get("refresh"):
                await peer.refresh_ice()
                out["refreshed"] = {
                    "ice_servers": peer.ice_servers,
                    "ice_expires_at": peer.ice_expires_at,
                }
            await peer.close()
        finally:
            await listener.close()
        await host_peer.close()
    except ClientError as exc:
        out["error"] = str(exc)
    finally:
        await host.close()
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))), flush=True)
