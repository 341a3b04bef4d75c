"""Weighted performance numbers of a classifier: ROC, AUC, loss, accuracy.

All functions take the true event weights. Monte Carlo weights can be
negative (NLO generators, background subtraction); they enter every sum as
they are, which keeps each number an unbiased estimate of its value for the
physical, weighted distributions. A number that is undefined (a class with
no events or a total weight of zero or less, non-finite scores) is reported
as None, never as NaN, so metrics files stay valid JSON.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tw_pipeline.evaluation.outcome import Scored

__all__ = [
    "aggregate_folds",
    "evaluate_scores",
    "fold_metrics",
    "weighted_accuracy",
    "weighted_auc",
    "weighted_log_loss",
    "weighted_roc",
]

log = logging.getLogger(__name__)

# Keras clips probabilities to [eps, 1 - eps] in its cross-entropy; the same
# clip here keeps the evaluated loss comparable with the training history.
_EPSILON = 1e-7


def weighted_roc(
    labels: np.ndarray, scores: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted ROC curve: background and signal efficiency per score cut.

    For each distinct score t, from the highest down, the efficiencies are
    the weighted fractions of background and signal events with a score of
    at least t. The curve starts at (0, 0) with threshold +inf and ends at
    (1, 1). It equals scikit-learn's ``roc_curve(labels, scores,
    sample_weight=weights, drop_intermediate=False)``.

    With negative weights, an efficiency can step backwards locally (a
    negatively weighted event passing a cut lowers the weighted count); the
    points are kept as they are rather than smoothed.

    Args:
        labels: 1 for signal, 0 for background.
        scores: classifier output; higher means more signal-like.
        weights: true event weights.

    Returns:
        ``(background_efficiency, signal_efficiency, thresholds)``, float64
        arrays of equal length; thresholds decrease.

    Raises:
        ValueError: if the arrays differ in length, a score is not finite, or
            either class has a total weight of zero or less.
    """
    labels, scores, weights = _checked(labels, scores, weights)
    signal_total = float(np.sum(weights[labels == 1]))
    background_total = float(np.sum(weights[labels != 1]))
    if not (signal_total > 0 and background_total > 0):
        msg = (
            "the ROC curve needs a positive total weight per class. "
            f"Got signal {signal_total:.6g}, background {background_total:.6g}."
        )
        raise ValueError(msg)

    # Highest score first. Events with equal scores are cut together, so
    # their order among themselves does not matter. The steps reuse their
    # arrays where they can: a run scores millions of training events.
    order = np.argsort(scores, kind="stable")[::-1]
    sorted_scores = scores[order]
    run_ends = np.flatnonzero(sorted_scores[1:] != sorted_scores[:-1])
    run_ends = np.append(run_ends, scores.size - 1)
    thresholds = sorted_scores[run_ends]
    del sorted_scores

    # Cumulative weights at the last event of each run of equal scores: a
    # cut at that score accepts the whole run.
    is_signal = labels[order] == 1
    passed = weights[order]
    del order
    background = np.where(is_signal, 0.0, passed)
    passed[~is_signal] = 0.0
    signal_passed = np.cumsum(passed, out=passed)[run_ends]
    background_passed = np.cumsum(background, out=background)[run_ends]
    del passed, background

    # Divide by the last cumulative sums (the totals up to rounding), so the
    # curve ends exactly at (1, 1).
    signal_total = signal_passed[-1]
    background_total = background_passed[-1]
    signal_efficiency = np.r_[0.0, signal_passed / signal_total]
    background_efficiency = np.r_[0.0, background_passed / background_total]
    thresholds = np.r_[np.inf, thresholds]
    return background_efficiency, signal_efficiency, thresholds


def weighted_auc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> float:
    """Area under the weighted ROC curve (trapezoidal rule).

    The trapezoidal area equals the weighted Mann-Whitney statistic: the
    weighted probability that a signal event scores higher than a background
    event, ties counting one half. Negative weights enter the sum with their
    sign; where the curve steps backwards the area is subtracted. The result
    is then still an unbiased estimate, but on small samples it can fall
    slightly outside [0, 1]. For positive weights it equals scikit-learn's
    ``roc_auc_score(labels, scores, sample_weight=weights)``, which refuses
    curves that step backwards.

    Args:
        labels: 1 for signal, 0 for background.
        scores: classifier output.
        weights: true event weights.

    Returns:
        The area, 0.5 for a classifier that guesses.

    Raises:
        ValueError: as :func:`weighted_roc`.
    """
    background_efficiency, signal_efficiency, _ = weighted_roc(labels, scores, weights)
    steps = np.diff(background_efficiency)
    heights = 0.5 * (signal_efficiency[1:] + signal_efficiency[:-1])
    return float(np.sum(steps * heights))


def weighted_log_loss(
    labels: np.ndarray, scores: np.ndarray, weights: np.ndarray
) -> float:
    """Weighted mean binary cross-entropy.

    ``sum(w * -(y log p + (1 - y) log(1 - p))) / sum(w)`` with p clipped to
    [1e-7, 1 - 1e-7] as Keras does.

    Args:
        labels: 1 for signal, 0 for background.
        scores: classifier output in [0, 1].
        weights: event weights.

    Returns:
        The loss.

    Raises:
        ValueError: if the arrays differ in length, a score is not finite or
            the weights sum to zero or less.
    """
    labels, scores, weights = _checked(labels, scores, weights)
    total = _positive_total(weights)
    p = np.clip(scores, _EPSILON, 1.0 - _EPSILON)
    losses = np.where(labels == 1, -np.log(p), -np.log1p(-p))
    return float(np.sum(weights * losses) / total)


def weighted_accuracy(
    labels: np.ndarray, scores: np.ndarray, weights: np.ndarray
) -> float:
    """Weighted share of correctly classified events at a cut of 0.5.

    An event counts as classified signal when its score is above 0.5, the
    rule of Keras' binary accuracy, so the numbers match the history.

    Args:
        labels: 1 for signal, 0 for background.
        scores: classifier output in [0, 1].
        weights: event weights.

    Returns:
        The accuracy.

    Raises:
        ValueError: as :func:`weighted_log_loss`.
    """
    labels, scores, weights = _checked(labels, scores, weights)
    total = _positive_total(weights)
    correct = (scores > 0.5) == (labels == 1)
    return float(np.sum(weights[correct]) / total)


def evaluate_scores(scored: Scored) -> dict[str, Any]:
    """Weighted AUC, loss and accuracy of a set of scored events.

    Args:
        scored: scores, labels and true weights.

    Returns:
        ``{"auc", "loss", "accuracy", "events", "sum_weights"}``; a number
        that cannot be computed (see the module notes) is None.
    """
    labels = np.asarray(scored.labels)
    scores = np.asarray(scored.scores, dtype=np.float64)
    weights = np.asarray(scored.weights, dtype=np.float64)
    result: dict[str, Any] = {
        "auc": None,
        "loss": None,
        "accuracy": None,
        "events": int(labels.size),
        "sum_weights": _finite_or_none(np.sum(weights)),
    }

    if not np.all(np.isfinite(scores)):
        log.warning(
            "%d of %d scores are not finite (did training diverge?); "
            "AUC, loss and accuracy are left empty",
            int(np.sum(~np.isfinite(scores))),
            scores.size,
        )
        return result

    for name, function in (
        ("auc", weighted_auc),
        ("loss", weighted_log_loss),
        ("accuracy", weighted_accuracy),
    ):
        try:
            result[name] = _finite_or_none(function(labels, scores, weights))
        except ValueError as error:
            log.warning(
                "cannot compute the %s of %d events: %s", name, labels.size, error
            )
    return result


def fold_metrics(
    fold: int,
    train: Scored,
    test: Scored,
    *,
    epochs_trained: int,
    best_epoch: int | None,
    seconds: float,
) -> dict[str, Any]:
    """The metrics record of one fold, as written to metrics.json.

    Args:
        fold: index of the test fold.
        train: scores of the training folds' events, with true weights.
        test: scores of the test fold's events, with true weights.
        epochs_trained: epochs run before training stopped.
        best_epoch: epoch (from 1) of the kept model, None if no epoch had a
            finite validation loss.
        seconds: wall time of the fold's training and evaluation.

    Returns:
        ``{"fold", "train", "test", "epochs_trained", "best_epoch", "seconds"}``
        where train and test are :func:`evaluate_scores` results.
    """
    return {
        "fold": int(fold),
        "train": evaluate_scores(train),
        "test": evaluate_scores(test),
        "epochs_trained": int(epochs_trained),
        "best_epoch": None if best_epoch is None else int(best_epoch),
        "seconds": round(float(seconds), 2),
    }


def aggregate_folds(fold_metrics: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean and spread of the fold metrics.

    The spread is the sample standard deviation over folds (``ddof=1``),
    0 for a single fold. A mean and spread are None when any fold lacks the
    number, so a point is never ranked on a subset of its folds.

    Args:
        fold_metrics: per-fold records as made by :func:`fold_metrics`.

    Returns:
        ``test_auc_mean``/``_std``, ``train_auc_mean``/``_std``,
        ``test_loss_mean``/``_std``, ``test_accuracy_mean``/``_std`` and
        ``folds`` (the number of folds).
    """
    result: dict[str, Any] = {}
    for part, name in (
        ("test", "auc"),
        ("train", "auc"),
        ("test", "loss"),
        ("test", "accuracy"),
    ):
        values = [record[part][name] for record in fold_metrics]
        mean, spread = _mean_and_spread(values)
        result[f"{part}_{name}_mean"] = mean
        result[f"{part}_{name}_std"] = spread
    result["folds"] = len(fold_metrics)
    return result


def _mean_and_spread(values: list[float | None]) -> tuple[float | None, float | None]:
    if not values or any(value is None for value in values):
        return None, None
    array = np.asarray(values, dtype=np.float64)
    spread = float(np.std(array, ddof=1)) if array.size > 1 else 0.0
    return _finite_or_none(np.mean(array)), _finite_or_none(spread)


def _checked(
    labels: np.ndarray, scores: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    labels = np.asarray(labels).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    if not labels.size == scores.size == weights.size:
        msg = (
            f"labels, scores and weights must have one entry per event. Got "
            f"{labels.size}, {scores.size} and {weights.size}."
        )
        raise ValueError(msg)
    if not np.all(np.isfinite(scores)):
        msg = "scores must be finite."
        raise ValueError(msg)
    return labels, scores, weights


def _positive_total(weights: np.ndarray) -> float:
    total = float(np.sum(weights))
    if not total > 0:
        msg = f"the weights must sum to more than zero. Got {total:.6g}."
        raise ValueError(msg)
    return total


def _finite_or_none(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
