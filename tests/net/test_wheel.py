"""The wheel is the product: build it, install it into a fresh virtualenv (no system site
packages; pip may reuse its wheel cache), run ``voiceroom serve --demo`` from an unrelated
directory, and check the page is served from the installed package and a bot hears a tone
in the demo room. Slow (a full dependency install, ~2 min the first time)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.net.test_reverse_proxy import free_port
from voiceroom.client import MediaPeer, RoomClient

pytestmark = [pytest.mark.slow, pytest.mark.media, pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parents[2]
SKIP = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    "test-artifacts",
    "node_modules",
    "bench-out",
    "var",
)


def clean_env() -> dict[str, str]:
    """No PYTHONPATH: the installed package, not this checkout, must be what runs."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("wheel")
    src = d / "src"
    shutil.copytree(ROOT, src, ignore=SKIP)  # builds leave build/ behind: not in the checkout
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(d / "dist"), str(src)],
        check=True,
        timeout=300,
        env=clean_env(),
    )
    (wheel,) = (d / "dist").glob("voiceroom-*.whl")
    venv.create(d / "venv", with_pip=True, system_site_packages=False)
    subprocess.run(
        [str(d / "venv" / "bin" / "pip"), "install", "-q", str(wheel)],
        check=True,
        timeout=600,
        env=clean_env(),
        cwd=d,
    )
    return d / "venv"


@pytest.fixture
def demo(installed: Path, tmp_path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    port = free_port()
    where = tmp_path / "elsewhere"
    where.mkdir()
    proc = subprocess.Popen(
        [
            str(installed / "bin" / "voiceroom"),
            "serve",
            "--demo",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=where,
        env=clean_env(),
    )
    try:
        assert proc.stdout is not None
        links: dict[str, str] = {}
        for line in proc.stdout:
            parts = line.split()
            if len(parts) == 2 and parts[1].startswith("http://"):
                links[parts[0]] = parts[1]
            if len(links) == 5:
                break
        assert len(links) == 5, "demo links not printed"
        yield port, links
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(15)


def test_installed_package_has_the_web_client(installed: Path) -> None:
    out = subprocess.run(
        [
            str(installed / "bin" / "python"),
            "-c",
            "import voiceroom, voiceroom.config as c;"
            "print(voiceroom.__file__); print(c.DEFAULT_WEB_ROOT); print(c.DEMO_MUSIC_DIR)",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=clean_env(),
        cwd=installed,
    ).stdout.split()
    site = str(installed)
    assert all(line.startswith(site) for line in out), out
    web = Path(out[1])
    assert (web / "index.html").read_bytes() == (ROOT / "clients/web/index.html").read_bytes()
    assert not (web / "test").exists()  # the web client's unit tests stay out
    assert any(Path(out[2]).glob("*.ogg"))


async def test_wheel_serves_the_page_and_a_bot_hears_a_tone(
    demo: tuple[int, dict[str, str]],
) -> None:
    port, links = demo
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as http:
        page = await http.get(f"{base}/")
        assert page.content == (ROOT / "clients/web/index.html").read_bytes()
        js = await http.get(f"{base}/js/media.js")
        assert js.content == (ROOT / "clients/web/js/media.js").read_bytes()
    host = await RoomClient.join(links["host"])
    try:
        speaker = await MediaPeer.connect(host)
        speaker.publish_tone(440.0)
        ear = await RoomClient.join(links["listener-new"])
        try:
            peer = await MediaPeer.connect(ear)
            try:
                assert await peer.wait_for_tone(440.0, threshold=0.05, timeout=10) > 0.05
            finally:
                await peer.close()
        finally:
            await ear.close()
        await speaker.close()
    finally:
        await host.close()
