"""How much the classifier response depends on the variable it is decorrelated from.

With ``adversary.variable`` (say an invariant mass), the test events of each
fold of the class ``adversary.events`` (background by default) are split
into four bins of that variable, each holding a quarter of the weighted
events (quartiles). In each bin the response is compared with the response
of all those events; a score independent of the variable has the same
distribution in every bin. The fold's numbers are the largest distance over
the bins:

- ``ks``: the weighted Kolmogorov-Smirnov statistic;
- ``jsd``: the Jensen-Shannon divergence of the response histograms
  (``evaluation.significance_bins`` bins, base 2).

A cut on a score that depends on the variable sculpts its distribution (a
background mass spectrum grows a peak where the signal is); these distances
measure that dependence on events the model never trained on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from tw_pipeline.data.dataset import Dataset
from tw_pipeline.evaluation.outcome import FoldOutcome
from tw_pipeline.evaluation.quantiles import weighted_quantiles
from tw_pipeline.evaluation.systematics import response_distance
from tw_pipeline.study.models import Study

__all__ = ["QUANTILE_BINS", "VariableResponse", "evaluate_variable"]

log = logging.getLogger(__name__)

QUANTILE_BINS = 4


@dataclass(frozen=True)
class VariableResponse:
    """Pooled test events of the class the adversary saw.

    Attributes:
        variable: the decorrelated column; events: its class choice.
        values, scores, weights: the variable, the score and the true weight.
        edges: the quartile edges of the variable over these events.
    """

    variable: str
    events: str
    values: np.ndarray
    scores: np.ndarray
    weights: np.ndarray
    edges: np.ndarray


def evaluate_variable(
    outcomes: Sequence[FoldOutcome],
    dataset: Dataset,
    fold_index_array: np.ndarray,
    study: Study,
) -> tuple[list[FoldOutcome], dict[str, Any], VariableResponse]:
    """Measure, per fold, how the response changes across the variable's quartiles.

    Returns:
        The folds with ``metrics["decorrelation"]``, the aggregate numbers
        (``distance_ks_mean``/``_std``, ``distance_jsd_mean``/``_std``,
        ``distance_of``) and the pooled test events for the plot.
    """
    assert study.adversary is not None and study.adversary.variable is not None
    assert dataset.decorrelated is not None
    variable, chosen = study.adversary.variable, study.adversary.events
    bins = study.evaluation.significance_bins

    extended, pooled = [], []
    for outcome in outcomes:
        # The test scores are in row order of the fold's events.
        rows = np.flatnonzero(np.asarray(fold_index_array) == outcome.fold)
        test = outcome.test
        if rows.size != test.scores.size:
            msg = (
                f"fold {outcome.fold} has {rows.size} events but {test.scores.size} "
                "test scores; the fold indices do not belong to this outcome"
            )
            raise ValueError(msg)
        mask = np.ones(rows.size, dtype=bool)
        if chosen != "all":
            mask = test.labels == (1 if chosen == "signal" else 0)
        values = dataset.decorrelated[rows][mask]
        scores, weights = test.scores[mask], test.weights[mask]
        pooled.append((values, scores, weights))

        edges = weighted_quantiles(values, weights, QUANTILE_BINS)
        per_bin = []
        for low, high, inside in _bins(values, edges):
            if not inside.any():
                continue  # ties in a discrete variable can leave a bin empty
            distance = response_distance(
                scores[inside], scores, weights[inside], weights, bins
            )
            per_bin.append({"low": float(low), "high": float(high), **distance})
        jsds = [entry["jsd"] for entry in per_bin]
        record = {
            "variable": variable,
            "events": chosen,
            "bins": per_bin,
            "ks": max(entry["ks"] for entry in per_bin),
            "jsd": None if any(j is None for j in jsds) else max(jsds),
        }
        log.info(
            "fold %d: response in quartiles of %s (%s): largest KS %.4f",
            outcome.fold,
            variable,
            chosen,
            record["ks"],
        )
        extended.append(
            replace(outcome, metrics={**outcome.metrics, "decorrelation": record})
        )

    aggregate: dict[str, Any] = {
        "distance_of": f"response in quartiles of {variable} ({chosen})",
    }
    for key in ("ks", "jsd"):
        values_ = [o.metrics["decorrelation"][key] for o in extended]
        if any(v is None for v in values_):
            aggregate[f"distance_{key}_mean"] = aggregate[f"distance_{key}_std"] = None
            continue
        array = np.asarray(values_, dtype=np.float64)
        aggregate[f"distance_{key}_mean"] = float(array.mean())
        aggregate[f"distance_{key}_std"] = (
            float(array.std(ddof=1)) if array.size > 1 else 0.0
        )

    values, scores, weights = (
        np.concatenate(part) for part in zip(*pooled, strict=True)
    )
    response = VariableResponse(
        variable=variable,
        events=chosen,
        values=values,
        scores=scores,
        weights=weights,
        edges=weighted_quantiles(values, weights, QUANTILE_BINS),
    )
    return extended, aggregate, response


def _bins(
    values: np.ndarray, edges: np.ndarray
) -> Iterator[tuple[float, float, np.ndarray]]:
    """(low, high, mask) of each bin; the last bin includes its upper edge."""
    for index in range(edges.size - 1):
        low, high = edges[index], edges[index + 1]
        if index == edges.size - 2:
            inside = (values >= low) & (values <= high)
        else:
            inside = (values >= low) & (values < high)
        yield low, high, inside
