"""The analysis-grade evaluation of one point, on top of AUC and loss.

For every fold: the overtraining check, the working points, the separation
and Asimov significance of the test response, the best cut, the decision-tree
baseline and the permutation importance of the inputs. For the point: the
mean and spread of those numbers over folds, the cut scan of all test events
together, and the correlations and separation ranking of the inputs. Every
number uses the true event weights; significances are scaled to the yields
of the study.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from tw_pipeline.data.dataset import Dataset
from tw_pipeline.evaluation.baseline import BaselineOutcome, train_baseline
from tw_pipeline.evaluation.correlation import weighted_correlation
from tw_pipeline.evaluation.cut_scan import CutScan, best_cut, cut_scan
from tw_pipeline.evaluation.outcome import FoldOutcome, combine_scored
from tw_pipeline.evaluation.overtraining import SMALL_PVALUE, overtraining_check
from tw_pipeline.evaluation.ranking import (
    combine_importances,
    permutation_importance,
    separation_ranking,
)
from tw_pipeline.evaluation.separation import SEPARATION_BINS, separation
from tw_pipeline.evaluation.significance import EventYields, binned_asimov
from tw_pipeline.evaluation.working_points import working_points
from tw_pipeline.run.memory import release_free_memory
from tw_pipeline.study.models import Study

__all__ = ["PointEvaluation", "evaluate_point", "fold_numbers", "train_baselines"]

log = logging.getLogger(__name__)

# The response lives in [0, 1]; its separation uses fixed bins there, so the
# numbers of two points are comparable.
_RESPONSE_EDGES = np.linspace(0.0, 1.0, SEPARATION_BINS + 1)


@dataclass(frozen=True)
class PointEvaluation:
    """Everything the evaluation adds to a point.

    Attributes:
        outcomes: the folds, their metrics extended by the new numbers.
        baselines: the decision-tree baseline of each fold; empty when off.
        scan: the cut scan of all test events together (each event once),
            None when it cannot be made.
        summary: the JSON-ready ``evaluation`` section of metrics.json.
    """

    outcomes: list[FoldOutcome]
    baselines: list[BaselineOutcome]
    scan: CutScan | None
    summary: dict[str, Any]


def evaluate_point(
    outcomes: Sequence[FoldOutcome],
    dataset: Dataset,
    fold_index_array: np.ndarray,
    study: Study,
    point_dir: Path,
    baselines: Sequence[BaselineOutcome] | None = None,
) -> PointEvaluation:
    """Compute the evaluation of a point whose folds are trained.

    Args:
        outcomes: the trained folds.
        dataset: all events of the study.
        fold_index_array: fold of every event.
        study: the point's study.
        point_dir: the point's run folder, holding ``fold-<i>/`` with the
            saved models (read for the permutation importance).
        baselines: the decision-tree baselines of the trained folds, when
            trained beforehand (see :func:`train_baselines`); trained here
            when None and ``evaluation.bdt`` is on.

    Returns:
        The extended outcomes, the baselines, the cut scan and the summary.
    """
    settings = study.evaluation
    yields = EventYields.for_study(study, dataset.labels, dataset.weights)
    extended: list[FoldOutcome] = []
    if baselines is None:
        baselines = train_baselines(dataset, fold_index_array, study)
    by_fold = {baseline.fold: baseline for baseline in baselines}
    importances: list[np.ndarray] = []

    for outcome in outcomes:
        extra = _response_numbers(outcome, yields, settings.significance_bins)
        _warn_if_overtrained(outcome.fold, extra["overtraining"])

        baseline = by_fold.get(outcome.fold)
        if baseline is not None:
            extra["bdt"] = baseline.metrics
            log.info(
                "fold %d: BDT baseline test AUC %s (network %s)",
                outcome.fold,
                _number(baseline.metrics["test"]["auc"]),
                _number(outcome.metrics.get("test", {}).get("auc")),
            )

        if settings.permutation_repeats:
            drops = _fold_importance(
                outcome, dataset, fold_index_array, study, point_dir
            )
            if drops is not None:
                importances.append(drops)
                extra["permutation_importance"] = dict(
                    zip(dataset.variables, (float(d) for d in drops), strict=True)
                )
        extended.append(replace(outcome, metrics={**outcome.metrics, **extra}))
        # The fold's temporaries (the shuffled copy of its test events above
        # all) go back to the system before the next fold makes its own.
        release_free_memory()

    test = combine_scored([outcome.test for outcome in outcomes])
    try:
        scan: CutScan | None = cut_scan(test, yields)
    except ValueError as error:
        log.warning("no cut scan: %s", error)
        scan = None

    summary = {
        "yields": yields.to_json(),
        "aggregate": aggregate_numbers([o.metrics for o in extended]),
        "best_cut_all_test_events": None if scan is None else best_cut(scan),
        "inputs": input_summary(dataset),
        "permutation_ranking": (
            combine_importances(importances, dataset.variables)
            if importances and len(importances) == len(outcomes)
            else None
        ),
        "permutation_repeats": settings.permutation_repeats,
        "bdt": settings.bdt,
    }
    return PointEvaluation(extended, list(baselines), scan, summary)


def train_baselines(
    dataset: Dataset, fold_index_array: np.ndarray, study: Study
) -> list[BaselineOutcome]:
    """The decision-tree baseline of every trained fold; empty when switched off.

    A run trains them before the network, while memory holds little besides
    the events: the trees' float64 copy of the training folds is the largest
    temporary array of a run, and the network's scores would otherwise sit
    beside it.
    """
    if not study.evaluation.bdt:
        return []
    return [
        train_baseline(dataset, fold, fold_index_array, study)
        for fold in study.folds.trained
    ]


def input_summary(dataset: Dataset) -> dict[str, Any]:
    """Correlations and separation ranking of the input variables, by class.

    Returns:
        ``{"variables", "separation_ranking", "correlation": {"signal",
        "background"}}``; matrices as nested lists, None where undefined.
    """
    correlation: dict[str, Any] = {}
    for name, label in (("signal", 1), ("background", 0)):
        chosen = np.flatnonzero(dataset.labels == label)
        try:
            matrix = weighted_correlation(dataset.features, dataset.weights, chosen)
            correlation[name] = [[_finite(v) for v in row] for row in matrix]
        except ValueError as error:
            log.warning("no %s correlation matrix: %s", name, error)
            correlation[name] = None
    return {
        "variables": list(dataset.variables),
        "separation_ranking": separation_ranking(
            dataset.features, dataset.labels, dataset.weights, dataset.variables
        ),
        "correlation": correlation,
    }


def fold_numbers(metrics: dict[str, Any]) -> dict[str, float | None]:
    """The scalar evaluation numbers of one fold's metrics, by flat name.

    Names such as ``ks_pvalue_signal``, ``separation``, ``asimov_significance``,
    ``signal_efficiency_at_0.1`` (background efficiency 10 %),
    ``background_rejection_at_0.7`` (signal efficiency 70 %),
    ``best_cut_significance`` and ``bdt_test_auc``.
    """
    numbers: dict[str, float | None] = {}
    overtraining = metrics.get("overtraining") or {}
    for name in ("signal", "background"):
        numbers[f"ks_pvalue_{name}"] = _get(overtraining, name, "ks_pvalue")
    numbers["separation"] = metrics.get("separation")
    numbers["asimov_significance"] = _get(metrics, "asimov_significance", "value")
    numbers["best_cut_significance"] = _get(metrics, "best_cut", "significance")
    points = metrics.get("working_points") or {}
    for kind in ("signal_efficiency", "background_rejection"):
        for target, entry in (points.get(kind) or {}).items():
            numbers[f"{kind}_at_{target}"] = entry.get("value")
    if "bdt" in metrics:
        numbers["bdt_test_auc"] = _get(metrics, "bdt", "test", "auc")
        numbers["bdt_train_auc"] = _get(metrics, "bdt", "train", "auc")
    return numbers


def aggregate_numbers(fold_metrics: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean and spread over folds of every :func:`fold_numbers` entry.

    As for AUC and loss, the spread is the sample standard deviation
    (``ddof=1``, 0 for one fold), and both are None when a fold lacks the
    number.

    Returns:
        ``{name: {"mean", "std"}}``.
    """
    per_fold = [fold_numbers(metrics) for metrics in fold_metrics]
    names: list[str] = []
    for numbers in per_fold:
        names.extend(name for name in numbers if name not in names)
    result: dict[str, Any] = {}
    for name in names:
        values = [numbers.get(name) for numbers in per_fold]
        if not values or any(v is None for v in values):
            result[name] = {"mean": None, "std": None}
            continue
        array = np.asarray(values, dtype=np.float64)
        spread = float(np.std(array, ddof=1)) if array.size > 1 else 0.0
        result[name] = {"mean": _finite(np.mean(array)), "std": _finite(spread)}
    return result


def _response_numbers(
    outcome: FoldOutcome, yields: EventYields, bins: int
) -> dict[str, Any]:
    test = outcome.test
    extra: dict[str, Any] = {"overtraining": overtraining_check(outcome.train, test)}
    if not np.all(np.isfinite(test.scores)):
        # A diverged network: the other numbers would be meaningless.
        log.warning("fold %d: scores are not finite; no working points", outcome.fold)
        extra.update(
            working_points=None,
            separation=None,
            asimov_significance=None,
            best_cut=None,
        )
        return extra
    extra["working_points"] = working_points(test)
    try:
        extra["separation"] = separation(
            test.scores, test.labels, test.weights, edges=_RESPONSE_EDGES
        )
    except ValueError as error:
        log.warning("fold %d: no separation: %s", outcome.fold, error)
        extra["separation"] = None
    extra["asimov_significance"] = binned_asimov(test, yields, bins)
    try:
        extra["best_cut"] = best_cut(cut_scan(test, yields))
    except ValueError as error:
        log.warning("fold %d: no cut scan: %s", outcome.fold, error)
        extra["best_cut"] = None
    return extra


def _fold_importance(
    outcome: FoldOutcome,
    dataset: Dataset,
    fold_index_array: np.ndarray,
    study: Study,
    point_dir: Path,
) -> np.ndarray | None:
    from tw_pipeline.evaluation.fold_model import load_fold_scorer

    rows = np.flatnonzero(np.asarray(fold_index_array) == outcome.fold)
    scorer = load_fold_scorer(Path(point_dir) / f"fold-{outcome.fold}")
    try:
        _, drops = permutation_importance(
            scorer,
            dataset.features,
            dataset.labels[rows],
            dataset.weights[rows],
            repeats=study.evaluation.permutation_repeats,
            seed=study.training.seed + outcome.fold,
            rows=rows,
        )
    except ValueError as error:
        log.warning("fold %d: no permutation importance: %s", outcome.fold, error)
        return None
    return drops


def _warn_if_overtrained(fold: int, overtraining: dict[str, Any]) -> None:
    for name, result in overtraining.items():
        if result is not None and result["ks_pvalue"] < SMALL_PVALUE:
            log.warning(
                "fold %d: the %s response differs between training and test events "
                "(KS p-value %.3g); the network may be overtrained (more events, "
                "dropout, l2 or earlier stopping usually help)",
                fold,
                name,
                result["ks_pvalue"],
            )


def _get(mapping: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
