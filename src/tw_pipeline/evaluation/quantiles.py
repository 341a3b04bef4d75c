"""Weighted quantiles: bin edges holding equal shares of the events' weight."""

from __future__ import annotations

import numpy as np

__all__ = ["weighted_quantiles"]


def weighted_quantiles(
    values: np.ndarray, weights: np.ndarray, bins: int
) -> np.ndarray:
    """Edges of ``bins`` bins that hold equal shares of the absolute weight.

    Absolute values, so that events with negative weights still count for
    where the events are. The first and last edges are the smallest and
    largest value.

    Args:
        values: the variable, one value per event (at least one).
        weights: the event weights.
        bins: the number of bins, at least 1.

    Returns:
        ``bins + 1`` non-decreasing edges; repeated edges mean a value holds
        more than one bin's share (a discrete variable).
    """
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(np.abs(np.asarray(weights, dtype=np.float64))[order])
    shares = np.linspace(0.0, 1.0, bins + 1)[1:-1] * cumulative[-1]
    positions = np.minimum(np.searchsorted(cumulative, shares), values.size - 1)
    inner = values[order][positions]
    return np.r_[values[order[0]], inner, values[order[-1]]]
