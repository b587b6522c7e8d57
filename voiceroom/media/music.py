"""The host's audio source: a file decoded with PyAV into 48 kHz mono 20 ms frames.

Decoding runs in a thread that keeps about a second of frames queued, so file I/O and
demuxing never run on the mixer's tick; the tick only takes a ready frame (or silence if
the decoder fell behind).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import av
import numpy as np

from voiceroom.errors import VoiceroomError
from voiceroom.media.codec import Pcm
from voiceroom.media.config import FRAME_SAMPLES, SAMPLE_RATE
from voiceroom.media.mixer import gain_q14


class MusicError(VoiceroomError):
    """The file cannot be opened or holds no audio."""


def decode_frames(path: str, *, gain: float = 1.0, loop: bool = False) -> Iterator[Pcm]:
    """Yield exactly-960-sample int16 mono frames; the last one zero-padded. Loops if asked."""
    q = gain_q14(gain)
    pending = np.zeros(0, dtype=np.int16)
    while True:
        decoded = 0
        try:
            container = av.open(path)
        except (av.FFmpegError, OSError) as exc:
            raise MusicError(f"cannot open {path!r}: {exc}") from exc
        with container:
            if not container.streams.audio:
                raise MusicError(f"{path!r} has no audio stream")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            for packet in container.demux(stream):
                for frame in packet.decode():
                    for out in resampler.resample(frame):
                        decoded += out.samples
                        pending = np.concatenate((pending, out.to_ndarray().reshape(-1)))
                        while len(pending) >= FRAME_SAMPLES:
                            yield _scaled(pending[:FRAME_SAMPLES], q)
                            pending = pending[FRAME_SAMPLES:]
            for out in resampler.resample(None):
                decoded += out.samples
                pending = np.concatenate((pending, out.to_ndarray().reshape(-1)))
        if decoded == 0:
            # Looping an empty file would spin forever.
            raise MusicError(f"{path!r} decodes to no samples")
        if not loop:
            break
    while len(pending) >= FRAME_SAMPLES:
        yield _scaled(pending[:FRAME_SAMPLES], q)
        pending = pending[FRAME_SAMPLES:]
    if len(pending):
        tail = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        tail[: len(pending)] = pending
        yield _scaled(tail, q)


def _scaled(frame: Pcm, q: int) -> Pcm:
    if q == 1 << 14:
        return frame.copy()
    scaled = (frame.astype(np.int32) * q) >> 14
    out: Pcm = np.clip(scaled, -32768, 32767).astype(np.int16)
    return out


class MusicPlayer:
    """Feeds :func:`decode_frames` through a bounded queue from a daemon thread."""

    def __init__(self, path: str, *, gain: float, loop: bool, buffer_frames: int = 50) -> None:
        self._frames = decode_frames(path, gain=gain, loop=loop)
        self._queue: queue.Queue[Pcm | None] = queue.Queue(maxsize=buffer_frames)
        self._stop = threading.Event()
        self.finished = False
        self.error: Exception | None = None
        self.underruns = 0
        self._thread = threading.Thread(target=self._run, name="voiceroom-music", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            for frame in self._frames:
                while not self._stop.is_set():
                    try:
                        self._queue.put(frame, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
        except Exception as exc:  # reported via .error; the room keeps running
            self.error = exc
        self._put_end()

    def _put_end(self) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(None, timeout=0.1)
                return
            except queue.Full:
                continue

    def next_frame(self) -> Pcm | None:
        """The next frame, or None (finished, or the decoder is behind: counted)."""
        if self.finished:
            return None
        try:
            frame = self._queue.get_nowait()
        except queue.Empty:
            self.underruns += 1
            return None
        if frame is None:
            self.finished = True
        return frame

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
