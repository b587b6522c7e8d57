"""The root of voiceroom's exception hierarchy.

::

    VoiceroomError
    ├── RuleError            (voiceroom.room.errors) a command broke a room rule; state unchanged
    ├── ProtocolError        (voiceroom.protocol)     a frame could not be decoded or validated
    ├── AuthError            (voiceroom.auth)         a join token is missing, forged or expired
    ├── ConfigError          (voiceroom.config)       bad configuration at start-up
    ├── MediaConfigError     (voiceroom.media.config) bad media settings
    ├── MediaError           (voiceroom.media.room)   an offer cannot be served
    ├── MusicError           (voiceroom.media.music)  a track cannot be decoded
    └── ClientError          (voiceroom.client.errors) the Python client's failures

Every error that reaches a client carries a stable, lowercase ``code`` from
:class:`voiceroom.room.errors.ErrorCode` so clients can localise the message.
"""

from __future__ import annotations


class VoiceroomError(Exception):
    """Base class of every error voiceroom raises on purpose."""
