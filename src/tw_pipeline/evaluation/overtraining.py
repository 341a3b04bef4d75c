"""Overtraining check: Kolmogorov-Smirnov test of training against test response.

The test is the unbinned two-sample Kolmogorov-Smirnov test with event
weights. The statistic is the largest distance between the weighted
empirical distribution functions of the two samples; its p-value comes from
the Kolmogorov distribution for the effective sample sizes
``(sum w)^2 / sum w^2``. Without weights this is exactly SciPy's
``ks_2samp(..., method="asymp")``. docs/evaluation.md explains why this
variant is used instead of TMVA's binned one.

The training and test events of a fold are disjoint, so the two samples are
independent as the test requires; a small p-value means the network responds
differently to events it was trained on, which is the mark of overtraining.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import kstwo

from tw_pipeline.evaluation.outcome import Scored

__all__ = ["KSResult", "effective_events", "overtraining_check", "weighted_ks_test"]

log = logging.getLogger(__name__)

# Below this p-value a fold is reported as possibly overtrained.
SMALL_PVALUE = 0.01


@dataclass(frozen=True)
class KSResult:
    """Outcome of one two-sample Kolmogorov-Smirnov test.

    Attributes:
        statistic: largest distance between the two distribution functions.
        pvalue: probability of a distance at least this large if both samples
            come from one distribution.
        effective_a: effective number of events of the first sample.
        effective_b: effective number of events of the second sample.
    """

    statistic: float
    pvalue: float
    effective_a: float
    effective_b: float


def effective_events(weights: np.ndarray) -> float:
    """Effective number of events, ``(sum w)^2 / sum w^2``.

    Equals the number of events when all weights are equal; it is the size of
    an unweighted sample with the same statistical power.
    """
    weights = np.asarray(weights, dtype=np.float64)
    squares = float(np.sum(weights**2))
    return float(np.sum(weights)) ** 2 / squares if squares > 0 else 0.0


def weighted_ks_test(
    a: np.ndarray,
    b: np.ndarray,
    weights_a: np.ndarray | None = None,
    weights_b: np.ndarray | None = None,
) -> KSResult:
    """Two-sided two-sample Kolmogorov-Smirnov test with event weights.

    Negative weights enter the distribution functions with their sign, so a
    function can step down locally; the statistic is still the largest
    distance between them.

    Args:
        a: values of the first sample (for example training responses).
        b: values of the second sample (test responses).
        weights_a: weights of ``a``; all 1 when None.
        weights_b: weights of ``b``; all 1 when None.

    Returns:
        Statistic, p-value and effective sample sizes.

    Raises:
        ValueError: if a sample is empty, has a value that is not finite,
            weights of another length, or a total weight of zero or less.
    """
    a, weights_a = _sample(a, weights_a, "first")
    b, weights_b = _sample(b, weights_b, "second")

    # Both distribution functions evaluated after each distinct value; a run
    # of equal values is passed at once, so ties need no special care.
    values = np.concatenate([a, b])
    order = np.argsort(values, kind="stable")
    in_a = np.r_[np.ones(a.size, bool), np.zeros(b.size, bool)][order]
    weights = np.concatenate([weights_a, weights_b])[order]
    sorted_values = values[order]
    run_ends = np.r_[np.flatnonzero(np.diff(sorted_values)), values.size - 1]
    cdf_a = np.cumsum(np.where(in_a, weights, 0.0))[run_ends] / np.sum(weights_a)
    cdf_b = np.cumsum(np.where(in_a, 0.0, weights))[run_ends] / np.sum(weights_b)
    statistic = float(np.max(np.abs(cdf_a - cdf_b)))

    effective_a = effective_events(weights_a)
    effective_b = effective_events(weights_b)
    # SciPy's asymptotic two-sample p-value: the one-sample Kolmogorov
    # distribution at n = round(n_a n_b / (n_a + n_b)).
    combined = max(1.0, round(effective_a * effective_b / (effective_a + effective_b)))
    pvalue = float(np.clip(kstwo.sf(statistic, combined), 0.0, 1.0))
    return KSResult(statistic, pvalue, effective_a, effective_b)


def overtraining_check(train: Scored, test: Scored) -> dict[str, Any]:
    """KS test of training against test response, for signal and background.

    Args:
        train: scores of the training folds' events, with true weights.
        test: scores of the test fold's events, with true weights.

    Returns:
        ``{"signal": {...}, "background": {...}}``, each with
        ``ks_statistic``, ``ks_pvalue``, ``effective_train`` and
        ``effective_test``, or None where the test cannot be made (a class
        missing, a total weight of zero or less, non-finite scores).
    """
    result: dict[str, Any] = {}
    for name, label in (("signal", 1), ("background", 0)):
        in_train = np.asarray(train.labels) == label
        in_test = np.asarray(test.labels) == label
        try:
            ks = weighted_ks_test(
                train.scores[in_train],
                test.scores[in_test],
                train.weights[in_train],
                test.weights[in_test],
            )
        except ValueError as error:
            log.warning("no KS test for the %s response: %s", name, error)
            result[name] = None
            continue
        result[name] = {
            "ks_statistic": ks.statistic,
            "ks_pvalue": ks.pvalue,
            "effective_train": round(ks.effective_a, 1),
            "effective_test": round(ks.effective_b, 1),
        }
    return result


def _sample(
    values: np.ndarray, weights: np.ndarray | None, which: str
) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if weights is None:
        weights = np.ones_like(values)
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    if values.size == 0:
        msg = f"the {which} sample is empty."
        raise ValueError(msg)
    if weights.size != values.size:
        msg = f"the {which} sample has {values.size} values but {weights.size} weights."
        raise ValueError(msg)
    if not np.all(np.isfinite(values)) or not np.all(np.isfinite(weights)):
        msg = f"the {which} sample holds values or weights that are not finite."
        raise ValueError(msg)
    total = float(np.sum(weights))
    if not total > 0:
        msg = (
            f"the weights of the {which} sample must sum to more than zero. "
            f"Got {total:.6g}."
        )
        raise ValueError(msg)
    return values, weights
