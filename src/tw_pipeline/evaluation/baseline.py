"""A gradient-boosted decision tree as a baseline for the network.

scikit-learn's HistGradientBoostingClassifier with its default settings is
trained on the same training folds with the same training weights as the
network (negative-weight policy and class balancing of the study), and scored
on the same test fold. Only where negative training weights remain (policy
``keep``) do the trees see them as zero, since scikit-learn's trees cannot
take them. On large samples the trees train on a seeded random share of
the training folds (``evaluation.bdt_events``), which costs the baseline
next to nothing in AUC but bounds its memory, the largest of a run. A
network that does not beat it is not yet worth its training time. Trees need
no input scaling, so the raw variables are used.
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
from tw_pipeline.run.memory import release_free_memory
from tw_pipeline.study.models import Study
from tw_pipeline.training.fold_inputs import training_rows

__all__ = ["BaselineOutcome", "train_baseline"]

log = logging.getLogger(__name__)

# Below this many training events the trees grow on one thread: OpenMP's
# start-up and waiting cost more than they save on small samples, several
# times more on a machine whose cores are busy with other work.
_SINGLE_THREAD_EVENTS = 100_000

# Events scored per call, to bound the memory of scoring.
_SCORE_BLOCK = 65_536

# As scikit-learn's early_stopping="auto": on from this many training events,
# with this share of them held out to watch the loss.
_EARLY_STOPPING_EVENTS = 10_000
_VALIDATION_FRACTION = 0.1


@dataclass(frozen=True)
class BaselineOutcome:
    """The baseline's scores and numbers on one fold.

    Attributes:
        fold: index of the test fold.
        train: scores of the events the trees trained on, with true weights.
        test: scores of the test fold's events, with true weights.
        metrics: ``{"train", "test", "trained_events", "iterations",
            "negative_weights_zeroed", "seconds"}``, train and test
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
    fit_rows, weights = training_rows(dataset, train_rows, study)
    fit_rows, weights = _at_most(
        study.evaluation.bdt_events, fit_rows, weights, study.training.seed + fold
    )

    # scikit-learn draws events with probability proportional to their
    # weight to place the bin edges (above 200,000 events), which negative
    # weights break; the trees train with them set to zero instead.
    negative = int(np.count_nonzero(weights < 0))
    if negative:
        weights = np.where(weights < 0, 0.0, weights)

    # Default settings, early stopping included; its validation split is made
    # here (seeded, so a rerun gives the same numbers), because scikit-learn
    # would make it by copying all training inputs once more.
    seed = study.training.seed + fold
    early_stopping = fit_rows.size > _EARLY_STOPPING_EVENTS
    model = HistGradientBoostingClassifier(
        early_stopping=early_stopping, random_state=seed
    )
    threads = 1 if fit_rows.size < _SINGLE_THREAD_EVENTS else None
    with threadpool_limits(limits=threads, user_api="openmp"):
        if early_stopping:
            fit, held_out = _validation_split(dataset, fit_rows, weights, seed)
            model.fit(
                *_tree_inputs(dataset, *fit),
                X_val=_float64_features(dataset, held_out[0]),
                y_val=dataset.labels[held_out[0]],
                sample_weight_val=held_out[1],
            )
        else:
            model.fit(*_tree_inputs(dataset, fit_rows, weights))
    # The float64 inputs and the trees' binned copy are gone now.
    release_free_memory()

    def scored(rows: np.ndarray) -> Scored:
        # Block by block: each block is converted to float64 for the trees.
        # Kept in float32 like the network's scores: the run holds them
        # until its report is written.
        scores = np.empty(rows.size, dtype=np.float32)
        for start in range(0, rows.size, _SCORE_BLOCK):
            block = rows[start : start + _SCORE_BLOCK]
            scores[start : start + block.size] = model.predict_proba(
                dataset.features[block]
            )[:, 1]
        return Scored.of_rows(scores, dataset, rows)

    # "train" are the events the trees saw, so that train against test
    # tells of overtraining also when they saw only some of the folds.
    train, test = scored(fit_rows), scored(test_rows)
    metrics = {
        "train": evaluate_scores(train),
        "test": evaluate_scores(test),
        "trained_events": int(fit_rows.size),
        "iterations": int(model.n_iter_),
        "negative_weights_zeroed": negative,
        "seconds": round(time.perf_counter() - started, 2),
    }
    log.info(
        "fold %d/%d: BDT baseline trained on %d events in %.1fs",
        fold + 1, study.folds.k, fit_rows.size, metrics["seconds"],
    )
    return BaselineOutcome(fold=fold, train=train, test=test, metrics=metrics)


def _validation_split(
    dataset: Dataset, rows: np.ndarray, weights: np.ndarray, seed: int
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    # Stratified by class, as scikit-learn splits: (rows, weights) of each part.
    from sklearn.model_selection import train_test_split

    fit_rows, val_rows, fit_weights, val_weights = train_test_split(
        rows,
        weights,
        test_size=_VALIDATION_FRACTION,
        stratify=dataset.labels[rows],
        random_state=seed,
    )
    return (fit_rows, fit_weights), (val_rows, val_weights)


def _tree_inputs(
    dataset: Dataset, rows: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # X, y and sample_weight as scikit-learn's fit takes them.
    return _float64_features(dataset, rows), dataset.labels[rows], weights


def _float64_features(dataset: Dataset, rows: np.ndarray) -> np.ndarray:
    # Built in float64, the type scikit-learn works in, so it copies nothing;
    # block by block, so no float32 copy of the rows is made on the way.
    x = np.empty((rows.size, dataset.features.shape[1]), dtype=np.float64)
    for start in range(0, rows.size, _SCORE_BLOCK):
        block = rows[start : start + _SCORE_BLOCK]
        x[start : start + block.size] = dataset.features[block]
    return x


def _at_most(
    limit: int | None, rows: np.ndarray, weights: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    # A seeded random choice of ``limit`` rows (in dataset order), with their
    # weights; everything when there are not more.
    if limit is None or rows.size <= limit:
        return rows, weights
    chosen = np.sort(np.random.default_rng(seed).choice(rows.size, limit, replace=False))
    return rows[chosen], weights[chosen]
