"""Events, views and snapshots (frozen dataclasses) in wire form: plain maps and arrays.

Its own module so that the cores' composite (``venue``) and the protocol both use it.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

# Values that ``dataclasses.asdict`` would deep-copy into themselves.
_ATOMS = frozenset({str, int, float, bool, bytes, type(None)})
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def plain(value: Any) -> Any:
    """``dataclasses.asdict`` of an event, view or snapshot: the same maps, arrays and
    values, equal to what it returns, built without its per-object ``fields()`` call and
    deep copies (immutable values are shared, not copied). Every event and every joiner's
    snapshot goes through this, so under a wave of joins it was a measurable share of the
    server's work (``tests/test_protocol.py`` checks it against ``asdict``)."""
    cls = type(value)
    if cls in _ATOMS:
        return value
    names = _FIELD_NAMES.get(cls)
    if names is None and dataclasses.is_dataclass(cls):
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    if names is not None:
        return {name: plain(getattr(value, name)) for name in names}
    if isinstance(value, enum.Enum):
        return value
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple
        return cls(*[plain(v) for v in value])
    if isinstance(value, (list, tuple)):
        return cls(plain(v) for v in value)
    if isinstance(value, dict) and not hasattr(value, "default_factory"):
        return cls((plain(k), plain(v)) for k, v in value.items())
    return dataclasses.asdict(_Boxed(value))["value"]  # anything else: as asdict does


def to_wire(value: Any) -> Any:
    """A dataclass (command, event, view, snapshot) as plain maps and arrays; anything
    else as it is."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(value)
    return value


@dataclasses.dataclass(frozen=True, slots=True)
class _Boxed:
    value: Any
