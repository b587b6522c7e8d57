"""The signalling tests' real-server fixtures (``make_server``, ``h``), for the games'
websocket tests."""

from __future__ import annotations

from tests.signalling.conftest import h, make_server

__all__ = ["h", "make_server"]
