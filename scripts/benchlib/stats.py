"""Small statistics helpers (numpy only)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def median(xs: Sequence[float]) -> float | None:
    return float(np.median(xs)) if len(xs) else None


def pct(xs: Sequence[float], q: float) -> float | None:
    return float(np.percentile(xs, q)) if len(xs) else None


def fit_line(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Least-squares ``y = slope * x + intercept``."""
    slope, intercept = np.polyfit(np.asarray(x, float), np.asarray(y, float), 1)
    return float(slope), float(intercept)


def rnd(x: float | None, digits: int = 2) -> float | None:
    return None if x is None else round(x, digits)
