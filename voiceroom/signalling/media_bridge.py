"""Room state -> media plane, for one room.

The room core decides who hears whom (:meth:`Room.routing`); this bridge only carries that
decision to a ``voiceroom.media`` MediaRoom, turns SDP offers into answers, plays the warm-up
music the core recorded, and turns voice-activity callbacks into ``media.speaking`` events.

Media operations run on the bridge's own task, one at a time and in order, so the room's
command stream never waits on the media plane. ``connect`` (ICE/DTLS set-up) is awaited by
the requesting connection only.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from voiceroom.room.errors import ErrorCode, RuleError
from voiceroom.room.routing import Routing

MAX_TRACK_CHARS = 200
MAX_TRACKS = 200  # names listed to moderators; a huge library is browsed some other way
AUDIO_SUFFIXES = frozenset(
    {".ogg", ".oga", ".opus", ".mp3", ".wav", ".flac", ".m4a", ".aac", ".webm", ".mka"}
)


class MediaRoomLike(Protocol):
    """The contract voiceroom.media.MediaRoom implements."""

    async def start(self) -> None: ...
    async def connect(self, user: str, offer_sdp: str) -> str: ...
    def set_routing(self, routing: Routing) -> None: ...
    async def disconnect(self, user: str) -> None: ...
    async def play_music(self, path: str, *, gain: float, loop: bool) -> None: ...
    async def stop_music(self) -> None: ...
    async def close(self) -> None: ...
    def stats(self) -> dict[str, Any]: ...
    def users(self) -> frozenset[str]: ...


SpeakingCallback = Callable[[str, bool], None]
MediaRoomFactory = Callable[[str, SpeakingCallback], MediaRoomLike]


def default_media_factory(
    settings: Mapping[str, Any],
    *,
    net: Any = None,
    ice_servers: Callable[[], list[dict[str, Any]]] | None = None,
) -> MediaRoomFactory:
    """The real media plane, imported only when media is enabled. ``net``: a
    voiceroom.ice.MediaNet (where media binds); ``ice_servers``: STUN/TURN for the server's
    own peers, asked for each new peer (TURN credentials may expire)."""
    media = importlib.import_module("voiceroom.media")
    media_room = media.MediaRoom
    media_config = getattr(media, "MediaConfig", None)
    if media_config is None:
        media_config = importlib.import_module("voiceroom.media.config").MediaConfig
    config = media_config(**dict(settings))

    def factory(room_id: str, on_speaking: SpeakingCallback) -> MediaRoomLike:
        room: MediaRoomLike = media_room(
            room_id, config=config, on_speaking=on_speaking, net=net, ice_servers=ice_servers
        )
        return room

    return factory


def resolve_track(music_dir: Path | None, track: str) -> Path:
    """The file a ``music.play`` track names, inside ``music_dir`` and nowhere else."""
    if music_dir is None:
        raise RuleError(ErrorCode.MEDIA_ERROR, "this server has no music library")
    name = track.strip()
    if not name or len(name) > MAX_TRACK_CHARS or "\x00" in name or "\\" in name:
        raise RuleError(ErrorCode.INVALID_ARGUMENT, "bad track name")
    base = music_dir.resolve()
    candidate = (base / name).resolve()
    # resolve() follows symlinks and "..": the result must still be under the library.
    if not candidate.is_relative_to(base) or not candidate.is_file():
        raise RuleError(ErrorCode.INVALID_ARGUMENT, f"unknown track {name!r}")
    return candidate


def list_tracks(music_dir: Path | None, limit: int = MAX_TRACKS) -> list[str]:
    """Audio files directly in ``music_dir`` that ``music.play`` accepts, sorted, capped.

    Hidden files, non-audio suffixes and names that :func:`resolve_track` would refuse
    (e.g. a symlink pointing outside the library) are left out.
    """
    if music_dir is None:
        return []
    try:
        entries = [p.name for p in music_dir.iterdir()]
    except OSError:
        return []
    names: list[str] = []
    for name in sorted(entries, key=lambda n: (n.casefold(), n)):
        if name.startswith(".") or Path(name).suffix.lower() not in AUDIO_SUFFIXES:
            continue
        try:
            resolve_track(music_dir, name)
        except RuleError:
            continue
        names.append(name)
        if len(names) >= limit:
            break
    return names


class MusicLibrary:
    """The track names :func:`list_tracks` finds: listed at start, then re-listed off the
    event loop (:meth:`refresh`, a thread) when the directory's mtime changes. Rooms get
    the names as data (``Room.set_tracks``), so no room job touches the filesystem."""

    def __init__(self, music_dir: Path | None) -> None:
        self.music_dir = music_dir
        self._mtime = self._stat()
        self.names: tuple[str, ...] | None = None
        if music_dir is not None:
            self.names = tuple(list_tracks(music_dir))

    def _stat(self) -> int | None:
        if self.music_dir is None:
            return None
        try:
            return self.music_dir.stat().st_mtime_ns
        except OSError:
            return None

    def _scan(self) -> tuple[int | None, tuple[str, ...]] | None:
        mtime = self._stat()
        if mtime == self._mtime:
            return None
        return mtime, tuple(list_tracks(self.music_dir))

    async def refresh(self) -> bool:
        """Re-list if the directory changed; True when the names changed."""
        if self.music_dir is None:
            return False
        found = await asyncio.to_thread(self._scan)
        if found is None:
            return False
        self._mtime, names = found
        changed = names != self.names
        self.names = names
        return changed


class MediaBridge:
    def __init__(
        self,
        room_id: str,
        factory: MediaRoomFactory,
        *,
        music_dir: Path | None,
        on_speaking: SpeakingCallback,
        log: Any,
        connect_timeout: float = 15.0,
    ) -> None:
        self.room_id = room_id
        self.music_dir = music_dir
        self._factory = factory
        self._on_speaking = on_speaking
        self._log = log
        self._connect_timeout = connect_timeout
        self._media: MediaRoomLike | None = None
        self._starting: asyncio.Task[MediaRoomLike] | None = None
        self._routing: Routing | None = None
        self._music: tuple[str, float, bool] | None = None
        self._ops: asyncio.Queue[Callable[[], Awaitable[None]] | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name=f"media-{room_id}")
        self._loop = asyncio.get_running_loop()

    # -- called from the room task (synchronous, never blocks) --------------------------
    def set_routing(self, routing: Routing) -> None:
        self._routing = routing
        if self._media is not None:
            self._media.set_routing(routing)

    def play_music(self, path: Path, gain: float, loop: bool) -> None:
        self._music = (str(path), gain, loop)
        if self._media is not None:
            media = self._media
            self._ops.put_nowait(lambda: media.play_music(str(path), gain=gain, loop=loop))

    def stop_music(self) -> None:
        self._music = None
        if self._media is not None:
            self._ops.put_nowait(self._media.stop_music)

    def disconnect(self, user: str) -> None:
        if self._media is not None:
            media = self._media
            self._ops.put_nowait(lambda: media.disconnect(user))

    # -- called from a connection task ----------------------------------------------------
    async def connect(self, user: str, offer_sdp: str) -> str:
        media = await self._ensure_started()
        return await asyncio.wait_for(media.connect(user, offer_sdp), self._connect_timeout)

    def has_peer(self, user: str) -> bool:
        """Whether the media plane holds a peer connection for ``user`` now (a new process,
        after a restart or a worker's recovery, holds none)."""
        return self._media is not None and user in self._media.users()

    def stats(self) -> dict[str, Any]:
        if self._media is None:
            return {}
        try:
            return dict(self._media.stats())
        except Exception:
            self._log.exception("media stats failed")
            return {}

    async def close(self) -> None:
        self._ops.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self._task, 5.0)
        media, self._media = self._media, None
        if media is not None:
            try:
                await asyncio.wait_for(media.close(), 5.0)
            except Exception:
                self._log.exception("media close failed")

    # -- internals ------------------------------------------------------------------------
    def _speaking(self, user: str, speaking: bool) -> None:
        # The media plane may call from its own thread: hop onto the loop.
        self._loop.call_soon_threadsafe(self._on_speaking, user, speaking)

    async def _ensure_started(self) -> MediaRoomLike:
        if self._media is not None:
            return self._media
        if self._starting is None:
            self._starting = asyncio.create_task(self._start())
        try:
            return await asyncio.shield(self._starting)
        except Exception:
            self._starting = None  # let the next offer try again
            raise

    async def _start(self) -> MediaRoomLike:
        media = self._factory(self.room_id, self._speaking)
        await media.start()
        self._media = media
        # Catch up with what the room decided before the media plane existed.
        if self._routing is not None:
            media.set_routing(self._routing)
        if self._music is not None:
            path, gain, loop = self._music
            self._ops.put_nowait(lambda: media.play_music(path, gain=gain, loop=loop))
        self._log.info("media room started")
        return media

    async def _run(self) -> None:
        while True:
            op = await self._ops.get()
            if op is None:
                return
            try:
                await op()
            except Exception:
                self._log.exception("media operation failed")
