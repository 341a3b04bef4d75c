"""The separation <S^2> of two distributions, as TMVA defines it.

``<S^2> = 1/2 * integral (p_S(y) - p_B(y))^2 / (p_S(y) + p_B(y)) dy`` for the
normalised signal and background densities p_S and p_B. It is 0 for identical
shapes and 1 for shapes that do not overlap. Computed from weighted
histograms, the integral becomes ``1/2 * sum_i (s_i - b_i)^2 / (s_i + b_i)``
over the bin fractions s_i and b_i.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SEPARATION_BINS", "histogram_separation", "separation"]

SEPARATION_BINS = 40
# Input variables are histogrammed between these quantiles of both classes
# together, so that a few extreme events do not squeeze all others into one bin.
_RANGE_QUANTILES = (0.005, 0.995)


def histogram_separation(signal: np.ndarray, background: np.ndarray) -> float:
    """Separation of two histograms with the same bins.

    Args:
        signal: signal contents per bin (any normalisation). Negative
            contents, which negative weights can produce, count as empty.
        background: background contents per bin.

    Returns:
        <S^2> between 0 and 1.

    Raises:
        ValueError: if a histogram has no positive content.
    """
    signal = np.clip(np.asarray(signal, dtype=np.float64), 0.0, None)
    background = np.clip(np.asarray(background, dtype=np.float64), 0.0, None)
    if not (signal.sum() > 0 and background.sum() > 0):
        msg = "both histograms need a positive content for a separation"
        raise ValueError(msg)
    s = signal / signal.sum()
    b = background / background.sum()
    filled = (s + b) > 0
    return float(0.5 * np.sum((s[filled] - b[filled]) ** 2 / (s[filled] + b[filled])))


def separation(
    values: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    *,
    edges: np.ndarray | None = None,
) -> float:
    """Separation of the signal and background distributions of ``values``.

    Args:
        values: one value per event (a response or an input variable).
        labels: 1 for signal, 0 for background.
        weights: true event weights.
        edges: bin edges; by default 40 equal bins between the 0.5 % and
            99.5 % quantiles of all events, with the events outside counted
            in the first and last bin. Integer variables with few values get
            one bin per value.

    Returns:
        <S^2> between 0 and 1.

    Raises:
        ValueError: as :func:`histogram_separation`.
    """
    # One float64 copy of the values, clipped in place: inputs are ranked over
    # all events of a study, millions of them.
    values = np.array(values, dtype=np.float64)
    labels = np.asarray(labels)
    weights = np.asarray(weights, dtype=np.float64)
    if edges is None:
        edges = _default_edges(values)
    np.clip(values, edges[0], edges[-1], out=values)
    signal, _ = np.histogram(values[labels == 1], edges, weights=weights[labels == 1])
    background, _ = np.histogram(
        values[labels != 1], edges, weights=weights[labels != 1]
    )
    return histogram_separation(signal, background)


def _default_edges(values: np.ndarray) -> np.ndarray:
    # One sorted copy of the finite values serves the distinct values, the
    # quantiles and the range.
    ordered = np.sort(values[np.isfinite(values)])
    if ordered.size == 0:
        return np.array([0.0, 1.0])
    changes = ordered[1:] != ordered[:-1]
    if np.count_nonzero(changes) < SEPARATION_BINS:
        distinct = np.append(ordered[:-1][changes], ordered[-1])
        if np.all(distinct == np.round(distinct)):
            return np.arange(distinct[0] - 0.5, distinct[-1] + 1.0, 1.0)
    low, high = np.quantile(ordered, _RANGE_QUANTILES)
    if low == high:
        low, high = float(ordered[0]), float(ordered[-1])
    if low == high:
        return np.array([low - 0.5, high + 0.5])
    return np.linspace(low, high, SEPARATION_BINS + 1)
