"""How much the classifier response moves under a systematic variation.

For every systematic sample (``class: systematic``) the test events of each
fold are scored with that fold's saved model and compared with the test
events of the nominal sample it varies. Two weighted distances between the
two response distributions are reported:

- ``ks``: the Kolmogorov-Smirnov statistic, the largest difference between
  the two cumulative distributions (0 for identical responses, 1 for
  disjoint ones), with its p-value from the effective event counts;
- ``jsd``: the Jensen-Shannon divergence of the two response histograms
  (``evaluation.significance_bins`` equal bins in [0, 1], base-2 logarithm,
  so it lies in [0, 1]).

The events are the test folds' only, with their true weights, as for the
AUC. The numbers are computed with or without an ``adversary`` section, so a
plain point of a sweep is the reference against which the adversary's gain
in robustness is judged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from tw_pipeline.data.dataset import Dataset
from tw_pipeline.evaluation.fold_model import load_fold_scorer
from tw_pipeline.evaluation.outcome import FoldOutcome
from tw_pipeline.evaluation.overtraining import weighted_ks_test
from tw_pipeline.run.layout import point_layout
from tw_pipeline.study.models import Study
from tw_pipeline.training.adversary_data import systematic_folds

__all__ = [
    "SystematicResponse",
    "SystematicsEvaluation",
    "evaluate_systematics",
    "jensen_shannon",
    "response_distance",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SystematicResponse:
    """Test-fold responses of a nominal sample and of its variation.

    Attributes:
        sample: the systematic sample; varies: the nominal sample.
        nominal_scores, nominal_weights: the nominal sample's test events.
        varied_scores, varied_weights: the systematic sample's test events.
    """

    sample: str
    varies: str
    nominal_scores: np.ndarray
    nominal_weights: np.ndarray
    varied_scores: np.ndarray
    varied_weights: np.ndarray


@dataclass(frozen=True)
class SystematicsEvaluation:
    """The folds with their distances, the study-level numbers and the responses.

    Attributes:
        outcomes: the folds, each with ``metrics["systematics"]``.
        aggregate: ``distance_ks_mean``/``_std`` and ``distance_jsd_mean``/
            ``_std`` over folds, for the sample that ranks (the adversary's,
            else the first systematic sample), plus ``distance_sample``.
        responses: test events of all folds, per systematic sample.
    """

    outcomes: list[FoldOutcome]
    aggregate: dict[str, Any]
    responses: list[SystematicResponse]


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2, in [0, 1]) of two histograms.

    Bins with negative content (from negative weights) count as empty;
    each histogram is normalised to unit area first.
    """
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, None)
    q = np.clip(np.asarray(q, dtype=np.float64), 0.0, None)
    if p.sum() <= 0 or q.sum() <= 0:
        return float("nan")
    p, q = p / p.sum(), q / q.sum()
    mixture = 0.5 * (p + q)

    def relative_entropy(a: np.ndarray) -> float:
        used = a > 0
        return float(np.sum(a[used] * np.log2(a[used] / mixture[used])))

    return float(
        np.clip(0.5 * relative_entropy(p) + 0.5 * relative_entropy(q), 0.0, 1.0)
    )


def response_distance(
    nominal: np.ndarray,
    varied: np.ndarray,
    nominal_weights: np.ndarray,
    varied_weights: np.ndarray,
    bins: int = 20,
) -> dict[str, float | None]:
    """Weighted KS statistic, its p-value and the JS divergence of two responses."""
    ks = weighted_ks_test(nominal, varied, nominal_weights, varied_weights)
    edges = np.linspace(0.0, 1.0, bins + 1)
    p, _ = np.histogram(np.clip(nominal, 0, 1), edges, weights=nominal_weights)
    q, _ = np.histogram(np.clip(varied, 0, 1), edges, weights=varied_weights)
    jsd = jensen_shannon(p, q)
    return {
        "ks": float(ks.statistic),
        "ks_pvalue": float(ks.pvalue),
        "jsd": None if not np.isfinite(jsd) else jsd,
    }


def evaluate_systematics(
    outcomes: Sequence[FoldOutcome], dataset: Dataset, study: Study
) -> SystematicsEvaluation:
    """Score every systematic sample's test events and measure the distances.

    Args:
        outcomes: the trained folds (their test scores hold the nominal events).
        dataset: all events, with ``dataset.systematic`` loaded.
        study: the point's study; its run folder holds the fold models.

    Returns:
        The folds with ``metrics["systematics"][sample]`` added, the mean and
        spread over folds, and the pooled test responses for the plots.
    """
    systematic = dataset.systematic
    assert systematic is not None
    layout = point_layout(study)
    folds = systematic_folds(systematic, study.folds.k, study.training.seed)
    bins = study.evaluation.significance_bins
    names = list(systematic.sample_names)

    extended = []
    pooled: dict[str, list[tuple[np.ndarray, ...]]] = {name: [] for name in names}
    for outcome in outcomes:
        score = load_fold_scorer(layout.fold(outcome.fold))
        distances: dict[str, Any] = {}
        for index, name in enumerate(names):
            varies = str(study.data.samples[name].varies)
            rows = np.flatnonzero(
                (systematic.sample_index == index) & (folds == outcome.fold)
            )
            nominal = outcome.test.sample_index == dataset.sample_names.index(varies)
            if rows.size == 0 or not nominal.any():
                log.warning(
                    "fold %d: no test event of %s or %s; no distance",
                    outcome.fold,
                    name,
                    varies,
                )
                continue
            varied_scores = score(systematic.features[rows])
            part = (
                outcome.test.scores[nominal],
                outcome.test.weights[nominal],
                varied_scores,
                systematic.weights[rows],
            )
            pooled[name].append(part)
            distances[name] = {
                "varies": varies,
                **response_distance(part[0], part[2], part[1], part[3], bins),
            }
            log.info(
                "fold %d: response of %s against %s: KS %.4f, JS divergence %s",
                outcome.fold,
                name,
                varies,
                distances[name]["ks"],
                _number(distances[name]["jsd"]),
            )
        extended.append(
            replace(outcome, metrics={**outcome.metrics, "systematics": distances})
        )

    adversary = study.adversary
    ranked = adversary.sample if adversary and adversary.sample else names[0]
    varies = study.data.samples[ranked].varies
    aggregate: dict[str, Any] = {
        "distance_sample": ranked,
        "distance_of": f"{ranked} vs {varies} response",
    }
    for key in ("ks", "jsd"):
        values = [o.metrics["systematics"].get(ranked, {}).get(key) for o in extended]
        mean, spread = _mean_and_spread(values)
        aggregate[f"distance_{key}_mean"] = mean
        aggregate[f"distance_{key}_std"] = spread

    responses = [
        SystematicResponse(
            sample=name,
            varies=str(study.data.samples[name].varies),
            nominal_scores=np.concatenate([p[0] for p in parts]),
            nominal_weights=np.concatenate([p[1] for p in parts]),
            varied_scores=np.concatenate([p[2] for p in parts]),
            varied_weights=np.concatenate([p[3] for p in parts]),
        )
        for name, parts in pooled.items()
        if parts
    ]
    return SystematicsEvaluation(extended, aggregate, responses)


def _mean_and_spread(values: list[Any]) -> tuple[float | None, float | None]:
    # None when a fold lacks the number, so no point is ranked on a subset.
    if not values or any(value is None for value in values):
        return None, None
    array = np.asarray(values, dtype=np.float64)
    spread = float(np.std(array, ddof=1)) if array.size > 1 else 0.0
    return float(np.mean(array)), spread


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
