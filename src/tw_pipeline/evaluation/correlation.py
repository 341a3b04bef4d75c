"""Weighted linear correlation of the input variables."""

from __future__ import annotations

import numpy as np

__all__ = ["weighted_correlation"]


def weighted_correlation(features: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Pearson correlation matrix of the columns of ``features``, with event weights.

    The weighted means, variances and covariances are ``sum w x / sum w`` and
    so on: an event of weight 2 counts as two events. Negative weights enter
    with their sign.

    Args:
        features: events times variables.
        weights: one weight per event.

    Returns:
        A symmetric matrix with ones on the diagonal; NaN in the rows and
        columns of variables with zero (or negative) weighted variance.

    Raises:
        ValueError: if the weights do not sum to more than zero or the shapes
            do not fit.
    """
    x = np.asarray(features, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if x.ndim != 2 or x.shape[0] != w.size:
        msg = (
            "need events times variables and one weight per event. "
            f"Got {x.shape} and {w.size}."
        )
        raise ValueError(msg)
    total = float(np.sum(w))
    if not total > 0:
        msg = f"the weights must sum to more than zero. Got {total:.6g}."
        raise ValueError(msg)

    centred = x - (w @ x) / total
    covariance = (centred * w[:, None]).T @ centred / total
    variance = np.diag(covariance)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(variance > 0, np.sqrt(np.abs(variance)), np.nan)
        correlation = covariance / np.outer(scale, scale)
    # Rounding can put |r| a hair above 1; the diagonal is 1 by definition.
    correlation = np.clip(correlation, -1.0, 1.0)
    usable = np.isfinite(scale)
    correlation[np.diag_indices_from(correlation)] = np.where(usable, 1.0, np.nan)
    return correlation
