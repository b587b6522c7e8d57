"""Fixtures for tests that cross a real NAT (namespaces, coturn) or a real reverse proxy."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.net.netns import SRV_PUBLIC_IP, TURN_IP, NetnsUnavailable, Topology, probe, run

ROOT = Path(__file__).resolve().parents[2]
TURN_SECRET = "nat-test-turn-secret-0123456789"
SECRET = "nat-test-room-secret-0123456789abcdef"


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def topo() -> Iterator[Topology]:
    try:
        probe()
    except NetnsUnavailable as exc:
        # Said in the output too (pytest -rs shows the reason; this shows it without -rs).
        print(f"\nSKIP tests/net NAT tests: this machine forbids network namespaces: {exc}")
        pytest.skip(f"this machine forbids network namespaces: {exc}")
    t = Topology()
    try:
        t.build()
        yield t
    finally:
        t.close()


@pytest.fixture(scope="module")
def turn_pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    trustme = pytest.importorskip("trustme")
    d = tmp_path_factory.mktemp("turnpki")
    ca = trustme.CA()
    cert = ca.issue_cert(TURN_IP)
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    cert.private_key_pem.write_to_path(str(d / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(d / "cert.pem"))
    # The voiceroom server's own certificate (https/wss at its public address), same CA.
    site = ca.issue_cert(SRV_PUBLIC_IP)
    site.private_key_pem.write_to_path(str(d / "site-key.pem"))
    site.cert_chain_pems[0].write_to_path(str(d / "site-cert.pem"))
    return {
        "ca": d / "ca.pem",
        "cert": d / "cert.pem",
        "key": d / "key.pem",
        "site_cert": d / "site-cert.pem",
        "site_key": d / "site-key.pem",
    }


@pytest.fixture(scope="module")
def coturn(
    topo: Topology, turn_pki: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """coturn in its own namespace: UDP/TCP 3478, TLS 5349, time-limited credentials only
    (use-auth-secret). Yields its log file."""
    if not Path("/usr/bin/turnserver").exists():
        pytest.fail("coturn is not installed: scripts/bootstrap.sh installs it (Debian coturn)")
    d = tmp_path_factory.mktemp("coturn")
    log = d / "turn.log"
    conf = d / "turnserver.conf"
    conf.write_text(
        "\n".join(
            [
                f"listening-ip={TURN_IP}",
                f"relay-ip={TURN_IP}",
                "listening-port=3478",
                "tls-listening-port=5349",
                "min-port=49152",
                "max-port=49407",
                "realm=voiceroom.test",
                "use-auth-secret",
                f"static-auth-secret={TURN_SECRET}",
                "fingerprint",
                f"cert={turn_pki['cert']}",
                f"pkey={turn_pki['key']}",
                "no-cli",
                "no-dtls",
                "no-multicast-peers",
                # As docs/deploy.md: relay to voiceroom's public address only.
                "denied-peer-ip=0.0.0.0-255.255.255.255",
                f"allowed-peer-ip={SRV_PUBLIC_IP}",
                f"pidfile={d / 'turn.pid'}",
                f"log-file={log}",
                "simple-log",
                "verbose",
                "",
            ]
        )
    )
    with open(d / "stdout.log", "wb") as out:
        proc = subprocess.Popen(
            topo.exec_argv("turn", ["turnserver", "-c", str(conf)]),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 15
        while True:
            listening = run("ip", "netns", "exec", topo.ns["turn"], "ss", "-ltn")
            if ":3478" in listening and ":5349" in listening:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                text = (d / "stdout.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"coturn did not start: {text}")
            time.sleep(0.1)
        yield log
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextlib.contextmanager
def server_in(
    topo: Topology, tmp: Path, settings: dict[str, Any]
) -> Iterator[subprocess.Popen[bytes]]:
    """``voiceroom serve`` in the server namespace with ``settings`` as its TOML config."""
    conf = tmp / "voiceroom.toml"
    conf.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items()))
    with open(tmp / "server.log", "wb") as log:
        proc = subprocess.Popen(
            topo.exec_argv(
                "srv", [sys.executable, "-m", "voiceroom", "serve", "--config", str(conf)]
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=child_env(VOICEROOM_SECRET=SECRET),
            cwd=tmp,  # the store's var/ goes there, fresh for each server
        )
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def peer_in(topo: Topology, args: dict[str, Any], **env: str) -> dict[str, Any]:
    """tests/net/nat_peer.py in the client namespace; its JSON report."""
    proc = subprocess.run(
        topo.exec_argv("cli", [sys.executable, "-m", "tests.net.nat_peer", json.dumps(args)]),
        capture_output=True,
        text=True,
        timeout=150,
        env=child_env(**env),
        cwd=ROOT,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise AssertionError(f"nat_peer failed ({proc.returncode}): {proc.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(lines[-1])
    return report
