"""Working points: the efficiency of one class at fixed efficiencies of the other.

A working point is a cut ``score >= t`` that a user could actually apply, so
each number here belongs to one point of the weighted ROC curve and comes
with its cut; nothing is interpolated between cuts. The signal efficiency at
a background efficiency of 10 % is the highest signal efficiency among the
cuts that keep at most 10 % of the background; the background rejection
(``1 - background efficiency``, as TMVA defines it) at a signal efficiency of
70 % is the highest rejection among the cuts that keep at least 70 % of the
signal.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from tw_pipeline.evaluation.metrics import weighted_roc
from tw_pipeline.evaluation.outcome import Scored

__all__ = [
    "BACKGROUND_EFFICIENCIES",
    "SIGNAL_EFFICIENCIES",
    "background_rejection_at",
    "signal_efficiency_at",
    "working_points",
]

log = logging.getLogger(__name__)

BACKGROUND_EFFICIENCIES = (0.01, 0.1, 0.3)
SIGNAL_EFFICIENCIES = (0.5, 0.7, 0.9)

# Efficiencies are ratios of sums; 0.1 may come out as 0.1000000000001.
_TOLERANCE = 1e-9


def signal_efficiency_at(
    background_efficiency: np.ndarray,
    signal_efficiency: np.ndarray,
    thresholds: np.ndarray,
    target: float,
) -> tuple[float, float | None]:
    """Best signal efficiency of the cuts with a background efficiency <= target.

    Args:
        background_efficiency: ROC curve, as from :func:`weighted_roc`.
        signal_efficiency: ROC curve, same length.
        thresholds: the cut of each ROC point.
        target: the largest background efficiency allowed.

    Returns:
        The signal efficiency and its cut; the cut is None when no event may
        pass (the curve's starting point).
    """
    allowed = np.flatnonzero(background_efficiency <= target + _TOLERANCE)
    best = allowed[np.argmax(signal_efficiency[allowed])]
    return float(signal_efficiency[best]), _cut(thresholds[best])


def background_rejection_at(
    background_efficiency: np.ndarray,
    signal_efficiency: np.ndarray,
    thresholds: np.ndarray,
    target: float,
) -> tuple[float, float | None]:
    """Best background rejection of the cuts with a signal efficiency >= target.

    Args:
        background_efficiency: ROC curve, as from :func:`weighted_roc`.
        signal_efficiency: ROC curve, same length.
        thresholds: the cut of each ROC point.
        target: the smallest signal efficiency allowed.

    Returns:
        ``1 - background efficiency`` and the cut.
    """
    allowed = np.flatnonzero(signal_efficiency >= target - _TOLERANCE)
    best = allowed[np.argmin(background_efficiency[allowed])]
    return 1.0 - float(background_efficiency[best]), _cut(thresholds[best])


def working_points(scored: Scored) -> dict[str, Any] | None:
    """The standard working points of a set of scored events.

    Args:
        scored: scores, labels and true weights, usually of a test fold.

    Returns:
        ``{"signal_efficiency": {"0.01": {"value", "cut"}, ...},
        "background_rejection": {"0.5": {"value", "cut"}, ...}}``, keyed by
        the background and the signal efficiency respectively; None when the
        ROC curve cannot be made.
    """
    try:
        roc = weighted_roc(scored.labels, scored.scores, scored.weights)
    except ValueError as error:
        log.warning("no working points: %s", error)
        return None
    signal = {}
    for target in BACKGROUND_EFFICIENCIES:
        value, cut = signal_efficiency_at(*roc, target)
        signal[_key(target)] = {"value": value, "cut": cut}
    rejection = {}
    for target in SIGNAL_EFFICIENCIES:
        value, cut = background_rejection_at(*roc, target)
        rejection[_key(target)] = {"value": value, "cut": cut}
    return {"signal_efficiency": signal, "background_rejection": rejection}


def _key(target: float) -> str:
    return f"{target:g}"


def _cut(threshold: float) -> float | None:
    # The ROC curve starts at a cut of +inf (nothing passes), which JSON
    # cannot hold.
    threshold = float(threshold)
    return threshold if math.isfinite(threshold) else None
