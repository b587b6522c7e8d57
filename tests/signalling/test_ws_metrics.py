"""Issue 9 item 17: /metrics through prometheus_client, with latency histograms."""

from __future__ import annotations

import asyncio
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from voiceroom.observability import METRICS, Metrics

from .harness import Harness


def scrape(url: str) -> tuple[str, str]:
    with urllib.request.urlopen(url, timeout=3) as resp:
        return resp.headers.get("Content-Type", ""), resp.read().decode()


async def test_metrics_parse_and_carry_latency_histograms(h: Harness) -> None:
    host = await h.join("host", "host")
    await host.ok("chat.send", {"text": "hi"})
    await host.fail("seat.lock", {"seat": 0})  # the host's seat is taken: an error
    await asyncio.sleep(0.2)  # a few room ticks (tick_interval 0.05 in tests)
    ctype, text = await asyncio.to_thread(scrape, f"{h.http}/metrics")
    assert ctype.startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name, (kind, _, _) in METRICS.items():
        base = name.removesuffix("_total") if kind == "counter" else name
        assert families[base].type == kind, name
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in families.values()
        for s in f.samples
    }
    assert samples[("voiceroom_join_seconds_count", ())] == 1
    assert samples[("voiceroom_command_seconds_count", (("type", "chat.send"),))] == 1
    assert samples[("voiceroom_command_seconds_count", (("type", "seat.lock"),))] == 1
    assert samples[("voiceroom_tick_lateness_seconds_count", ())] >= 2
    assert samples[("voiceroom_claim_seconds_count", ())] == 0  # reserved for commerce
    ok = (("outcome", "ok"), ("type", "chat.send"))
    assert samples[("voiceroom_commands_total", ok)] == 1
    assert h.server.metrics.value("voiceroom_join_seconds") == 1
    assert not any(n.endswith("_created") for n, _ in samples)


def test_each_server_has_its_own_registry_and_new_names_work() -> None:
    a, b = Metrics(), Metrics()
    a.inc("voiceroom_events_total")
    a.inc("voiceroom_new_thing_total", shop="s1")  # not declared: still exposed
    a.set("voiceroom_media", 2.5, room="r", stat="x")
    assert a.value("voiceroom_events_total") == 1 and b.value("voiceroom_events_total") == 0
    assert a.value("voiceroom_new_thing_total", shop="s1") == 1
    assert 'voiceroom_media{room="r",stat="x"} 2.5' in a.render()
    a.clear("voiceroom_media")
    assert "voiceroom_media{" not in a.render()
    a.observe("voiceroom_claim_seconds", 0.003)
    assert a.value("voiceroom_claim_seconds") == 1
    assert 'voiceroom_claim_seconds_bucket{le="0.005"} 1.0' in a.render()


async def test_tick_lateness_shows_a_blocked_room(h: Harness) -> None:
    await h.join("host", "host")
    reg = h.server.metrics.registry

    def late_ticks() -> float:
        count = reg.get_sample_value("voiceroom_tick_lateness_seconds_count") or 0.0
        fast = reg.get_sample_value("voiceroom_tick_lateness_seconds_bucket", {"le": "0.1"})
        return count - (fast or 0.0)

    await asyncio.sleep(0.3)
    before = late_ticks()
    # A room job that hogs the loop for 300 ms: the ticks due meanwhile run late.
    await h.room().call(lambda: time.sleep(0.3))
    await asyncio.sleep(0.2)
    assert late_ticks() >= before + 1
