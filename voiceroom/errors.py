"""The root of voiceroom's exception hierarchy.

::

    VoiceroomError
    ├── RuleError            (voiceroom.room.errors) a command broke a room rule; state unchanged
    ├── ProtocolError        (voiceroom.protocol)     a frame could not be decoded or validated
    ├── AuthError            (voiceroom.auth)         a join token is missing, forged or expired
    └── ConfigError          (voiceroom.config)       bad configuration at start-up

Every error that reaches a client carries a stable, lowercase ``code`` from
:class:`voiceroom.room.errors.ErrorCode` so clients can localise the message.
"""

from __future__ import annotations


class VoiceroomError(Exception):
    """Base class of every error voiceroom raises on purpose."""
