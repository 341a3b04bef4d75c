"""Weighted linear correlation of the input variables."""

from __future__ import annotations

import numpy as np

__all__ = ["weighted_correlation"]


# Rows per block of the float64 sums, so no float64 copy of all events is made.
_BLOCK_ROWS = 65_536


def weighted_correlation(
    features: np.ndarray, weights: np.ndarray, rows: np.ndarray | None = None
) -> np.ndarray:
    """Pearson correlation matrix of the columns of ``features``, with event weights.

    The weighted means, variances and covariances are ``sum w x / sum w`` and
    so on: an event of weight 2 counts as two events. Negative weights enter
    with their sign.

    Args:
        features: events times variables.
        weights: one weight per event.
        rows: the events to use (all when None), so that a caller can pick a
            class without copying its events first.

    Returns:
        A symmetric matrix with ones on the diagonal; NaN in the rows and
        columns of variables with zero (or negative) weighted variance.

    Raises:
        ValueError: if the weights do not sum to more than zero or the shapes
            do not fit.
    """
    x = np.asarray(features)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if x.ndim != 2 or x.shape[0] != w.size:
        msg = (
            "need events times variables and one weight per event. "
            f"Got {x.shape} and {w.size}."
        )
        raise ValueError(msg)
    rows = np.arange(x.shape[0]) if rows is None else np.asarray(rows)
    total = float(np.sum(w[rows]))
    if not total > 0:
        msg = f"the weights must sum to more than zero. Got {total:.6g}."
        raise ValueError(msg)

    # Two passes over blocks of events, each block in float64: the weighted
    # means, then the weighted covariances around them.
    blocks = [rows[start : start + _BLOCK_ROWS] for start in range(0, rows.size, _BLOCK_ROWS)]
    mean = sum(w[block] @ x[block].astype(np.float64) for block in blocks) / total
    covariance = np.zeros((x.shape[1], x.shape[1]))
    for block in blocks:
        centred = x[block].astype(np.float64) - mean
        covariance += (centred * w[block, None]).T @ centred
    covariance /= total
    variance = np.diag(covariance)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(variance > 0, np.sqrt(np.abs(variance)), np.nan)
        correlation = covariance / np.outer(scale, scale)
    # Rounding can put |r| a hair above 1; the diagonal is 1 by definition.
    correlation = np.clip(correlation, -1.0, 1.0)
    usable = np.isfinite(scale)
    correlation[np.diag_indices_from(correlation)] = np.where(usable, 1.0, np.nan)
    return correlation
