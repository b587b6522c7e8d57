"""Signalling: the WebSocket edge between clients and the pure room core.

- :mod:`.gateway`      handshake (auth, HTTP routes) and one task per connection
- :mod:`.room_host`    one serialized command stream per room, fan-out, resume
- :mod:`.connection`   a client's bounded outbox and writer task
- :mod:`.ratelimit`    token bucket per connection
- :mod:`.replay`       per-room ring buffer of numbered events, for resume
- :mod:`.media_bridge` room state -> media plane (routing, music, speaking events)
- :mod:`.http`         /healthz, /metrics and the static web client
"""

from __future__ import annotations
