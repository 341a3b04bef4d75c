"""Ranking of the input variables: by separation before training, by
permutation importance after it.

The separation ranking (TMVA's "variable ranking" before training) says how
different the signal and background distributions of each variable are on
their own. The permutation importance says how much the trained network
relies on a variable: the values of one variable are shuffled among the test
events, which keeps its distribution but breaks its link to the other
variables and to the class, and the drop of the weighted test AUC is the
variable's importance. It is measured on test folds only, so it describes
how the model generalises, not what it memorised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tw_pipeline.evaluation.metrics import weighted_auc
from tw_pipeline.evaluation.separation import separation

__all__ = ["combine_importances", "permutation_importance", "separation_ranking"]

log = logging.getLogger(__name__)

Scorer = Callable[[np.ndarray], np.ndarray]


def separation_ranking(
    features: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    variables: Sequence[str],
) -> list[dict[str, Any]]:
    """Rank the input variables by their separation <S^2>, highest first.

    Args:
        features: events times variables, raw (unscaled) values.
        labels: 1 for signal, 0 for background.
        weights: true event weights.
        variables: the column names.

    Returns:
        One ``{"variable", "separation"}`` per variable, best first;
        ``separation`` is None where it cannot be computed.
    """
    entries = []
    for index, name in enumerate(variables):
        try:
            value: float | None = separation(features[:, index], labels, weights)
        except ValueError as error:
            log.warning("no separation for %s: %s", name, error)
            value = None
        entries.append({"variable": name, "separation": value})
    entries.sort(key=lambda e: (e["separation"] is None, -(e["separation"] or 0.0)))
    return entries


def permutation_importance(
    scorer: Scorer,
    features: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    *,
    repeats: int,
    seed: int,
    rows: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """Drop of the weighted AUC when each variable is shuffled.

    Args:
        scorer: maps raw features (events times variables) to scores.
        features: the test events, raw values (or all events, see ``rows``).
        labels: 1 for signal, 0 for background, one per test event.
        weights: true event weights, one per test event.
        repeats: shuffles per variable; the drops are averaged.
        seed: seed of the shuffles.
        rows: the rows of ``features`` that are the test events; all when
            None. Either way one copy of the test events is made, whose
            columns are shuffled and put back in turn.

    Returns:
        The AUC without shuffling and the mean drop per variable.

    Raises:
        ValueError: if the AUC cannot be computed (see :func:`weighted_auc`).
    """
    shuffled = np.array(features) if rows is None else np.asarray(features)[rows]
    reference = weighted_auc(labels, scorer(shuffled), weights)
    rng = np.random.default_rng(seed)
    drops = np.zeros(shuffled.shape[1])
    for column in range(shuffled.shape[1]):
        original = shuffled[:, column].copy()
        for _ in range(repeats):
            shuffled[:, column] = original[rng.permutation(original.size)]
            drops[column] += reference - weighted_auc(labels, scorer(shuffled), weights)
        shuffled[:, column] = original
    return reference, drops / repeats


def combine_importances(
    per_fold: Sequence[Sequence[float]], variables: Sequence[str]
) -> list[dict[str, Any]]:
    """Mean and spread over folds of the permutation importances, best first.

    Args:
        per_fold: for each fold, the AUC drop of every variable.
        variables: the column names.

    Returns:
        One ``{"variable", "mean", "std"}`` per variable; the spread is the
        sample standard deviation over folds, 0 for a single fold.
    """
    drops = np.asarray(per_fold, dtype=np.float64).reshape(
        len(per_fold), len(variables)
    )
    means = drops.mean(axis=0)
    spreads = (
        drops.std(axis=0, ddof=1) if len(per_fold) > 1 else np.zeros(len(variables))
    )
    entries = [
        {"variable": name, "mean": float(mean), "std": float(spread)}
        for name, mean, spread in zip(variables, means, spreads, strict=True)
    ]
    entries.sort(key=lambda e: -e["mean"])
    return entries
