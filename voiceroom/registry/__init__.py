"""Where each room lives: the room registry (docs/adr/0006-workers.md).

``base.RoomRegistry`` is the interface the front uses to place rooms on workers;
``local.LocalRegistry`` is the in-process implementation for one machine. A Redis one (many
machines) will implement the same Protocol: node and worker identity, leases with a time to
live renewed by heartbeats, and draining are in its vocabulary already.
"""

from voiceroom.registry.base import Lease, Placement, RoomRegistry, WorkerInfo, WorkerState
from voiceroom.registry.local import LocalRegistry

__all__ = ["Lease", "LocalRegistry", "Placement", "RoomRegistry", "WorkerInfo", "WorkerState"]
