"""A gradient-boosted decision tree as a baseline for the network.

scikit-learn's HistGradientBoostingClassifier with its default settings is
trained on the same training folds with the same training weights as the
network (negative-weight policy and class balancing of the study), and scored
on the same test fold. Only where negative training weights remain (policy
``keep``) do the trees see them as zero, since scikit-learn's trees cannot
take them. A network that does not beat it is not yet worth its
training time. Trees need no input scaling, so the raw variables are used.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from tw_pipeline.data.dataset import Dataset
from tw_pipeline.evaluation.metrics import evaluate_scores
from tw_pipeline.evaluation.outcome import Scored
from tw_pipeline.study.models import Study
from tw_pipeline.training.preprocess import training_weights

__all__ = ["BaselineOutcome", "train_baseline"]

log = logging.getLogger(__name__)

# Below this many training events the trees grow on one thread: OpenMP's
# start-up and waiting cost more than they save on small samples, several
# times more on a machine whose cores are busy with other work.
_SINGLE_THREAD_EVENTS = 100_000

# Events scored per call, to bound the memory of scoring.
_SCORE_BLOCK = 65_536


@dataclass(frozen=True)
class BaselineOutcome:
    """The baseline's scores and numbers on one fold.

    Attributes:
        fold: index of the test fold.
        train: scores of the training folds' events, with true weights.
        test: scores of the test fold's events, with true weights.
        metrics: ``{"train", "test", "iterations", "negative_weights_zeroed",
            "seconds"}``, train and test
            as from :func:`~tw_pipeline.evaluation.metrics.evaluate_scores`.
    """

    fold: int
    train: Scored
    test: Scored
    metrics: dict[str, Any]


def train_baseline(
    dataset: Dataset,
    fold: int,
    fold_index_array: np.ndarray,
    study: Study,
) -> BaselineOutcome:
    """Train and score the decision-tree baseline of test fold ``fold``.

    Args:
        dataset: all events of the study.
        fold: index of the test fold.
        fold_index_array: fold of every event (see ``assign_folds``).
        study: the point's study, for the weight policy and the seed.

    Returns:
        The baseline's scores and metrics.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    started = time.perf_counter()
    is_test = np.asarray(fold_index_array) == fold
    train_rows, test_rows = np.flatnonzero(~is_test), np.flatnonzero(is_test)
    weights, keep = training_weights(
        dataset.weights[train_rows],
        dataset.labels[train_rows],
        study.preprocess.negative_weights,
        study.preprocess.balance_classes,
    )
    fit_rows = train_rows[keep]
    weights = weights[keep]

    # scikit-learn draws events with probability proportional to their
    # weight to place the bin edges (above 200,000 events), which negative
    # weights break; the trees train with them set to zero instead.
    negative = int(np.count_nonzero(weights < 0))
    if negative:
        weights = np.where(weights < 0, 0.0, weights)

    # Default settings; only the seed of its internal early-stopping split is
    # fixed, so that a rerun gives the same numbers.
    model = HistGradientBoostingClassifier(random_state=study.training.seed + fold)
    threads = 1 if fit_rows.size < _SINGLE_THREAD_EVENTS else None
    with threadpool_limits(limits=threads, user_api="openmp"):
        # Handed over as float64, the type scikit-learn works in, so that it
        # makes no second copy of the training events.
        model.fit(
            dataset.features[fit_rows].astype(np.float64),
            dataset.labels[fit_rows],
            sample_weight=weights,
        )

    def scored(rows: np.ndarray) -> Scored:
        # Block by block: each block is converted to float64 for the trees.
        scores = np.empty(rows.size, dtype=np.float64)
        for start in range(0, rows.size, _SCORE_BLOCK):
            block = rows[start : start + _SCORE_BLOCK]
            scores[start : start + block.size] = model.predict_proba(
                dataset.features[block]
            )[:, 1]
        return Scored(
            scores=scores,
            labels=dataset.labels[rows],
            weights=dataset.weights[rows],
            sample_index=dataset.sample_index[rows],
        )

    train, test = scored(train_rows), scored(test_rows)
    metrics = {
        "train": evaluate_scores(train),
        "test": evaluate_scores(test),
        "iterations": int(model.n_iter_),
        "negative_weights_zeroed": negative,
        "seconds": round(time.perf_counter() - started, 2),
    }
    return BaselineOutcome(fold=fold, train=train, test=test, metrics=metrics)
