"""What a fold's training needs besides the network: rows, scaler and weights.

Preparing a fold means splitting the validation part off the training folds,
fitting the scaler on the rest and turning true weights into training
weights. None of it depends on the network or the optimizer, so the points
of a sweep that vary only those share one preparation per fold: a
:class:`FoldInputCache` keeps them for the points run after the first one.

Only row indices, weights and the scaler are kept, not scaled copies of the
inputs, so the cache stays small next to the loaded events.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import numpy as np

from tw_pipeline.data.dataset import Dataset
from tw_pipeline.study.models import Study
from tw_pipeline.training.buffers import aligned_empty
from tw_pipeline.training.folds import split_validation
from tw_pipeline.training.preprocess import Scaler, fit_scaler, training_weights

__all__ = ["FoldInputCache", "FoldInputs", "prepare_fold", "training_rows"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FoldInputs:
    """The prepared training and validation events of one fold.

    Attributes:
        fit_rows: dataset rows the network trains on (after the negative-weight
            policy, which may drop events).
        fit_weights: their training weights, float32.
        val_rows: dataset rows of the validation loss.
        val_weights: their weights, treated as the training weights are, so the
            validation loss is on the same scale as the training loss.
        scaler: the input scaling, fitted on the training rows (before any
            event is dropped by the weight policy).
    """

    fit_rows: np.ndarray
    fit_weights: np.ndarray
    val_rows: np.ndarray
    val_weights: np.ndarray
    scaler: Scaler

    def x(self, dataset: Dataset, part: str) -> np.ndarray:
        """Scaled inputs of ``part`` ("fit" or "val"), float32, tensor-aligned."""
        rows = self.rows(part)
        x = aligned_empty((rows.size, dataset.features.shape[1]), np.float32)
        # Gathered straight into the aligned array ("clip" keeps numpy from
        # buffering a second copy; the rows are valid), then scaled in place.
        np.take(dataset.features, rows, axis=0, out=x, mode="clip")
        return self.scaler.transform(x, in_place=True)

    def y(self, dataset: Dataset, part: str) -> np.ndarray:
        """Targets of ``part`` as an (events, 1) float32 column, tensor-aligned."""
        rows = self.rows(part)
        y = aligned_empty((rows.size, 1), np.float32)
        y[:, 0] = dataset.labels[rows]
        return y

    def weights(self, part: str) -> np.ndarray:
        """Training weights of ``part``, float32, tensor-aligned."""
        source = self.fit_weights if part == "fit" else self.val_weights
        weights = aligned_empty(source.shape, np.float32)
        weights[:] = source
        return weights

    def rows(self, part: str) -> np.ndarray:
        """Dataset rows of ``part`` ("fit" or "val")."""
        if part not in ("fit", "val"):
            msg = f"part must be 'fit' or 'val'. Got {part!r} instead."
            raise ValueError(msg)
        return self.fit_rows if part == "fit" else self.val_rows


def prepare_fold(
    dataset: Dataset, fold: int, train_rows: np.ndarray, study: Study
) -> FoldInputs:
    """Split, fit the scaler and weight the training rows of test fold ``fold``.

    Args:
        dataset: all events of the study.
        fold: index of the test fold; with ``training.seed`` it seeds the
            validation split.
        train_rows: rows of all folds but the test fold.
        study: the point's settings (preprocess, training).

    Returns:
        The fold's prepared rows, weights and scaler.
    """
    seed = study.training.seed + fold
    fit_rows, val_rows = split_validation(
        train_rows,
        dataset.labels[train_rows],
        study.training.validation_fraction,
        seed,
    )
    scaler = fit_scaler(
        study.preprocess.scaler, dataset.features, dataset.variables, rows=fit_rows
    )
    fit_rows, fit_weights = _weighted(dataset, fit_rows, study)
    val_rows, val_weights = _weighted(dataset, val_rows, study)
    return FoldInputs(fit_rows, fit_weights, val_rows, val_weights, scaler)


def training_rows(
    dataset: Dataset, rows: np.ndarray, study: Study
) -> tuple[np.ndarray, np.ndarray]:
    """The rows that train, and their float64 training weights.

    The study's negative-weight policy and class balancing turn the true
    weights of ``rows`` into training weights; the ``drop`` policy removes
    events, which is why the rows come back too.
    """
    weights, keep = training_weights(
        dataset.weights[rows],
        dataset.labels[rows],
        study.preprocess.negative_weights,
        study.preprocess.balance_classes,
    )
    return rows[keep], weights[keep]


def _weighted(
    dataset: Dataset, rows: np.ndarray, study: Study
) -> tuple[np.ndarray, np.ndarray]:
    rows, weights = training_rows(dataset, rows, study)
    # 32-bit row numbers halve the cache for any dataset that fits them.
    if rows.size and rows.max() < np.iinfo(np.int32).max:
        rows = rows.astype(np.int32)
    return rows, weights.astype(np.float32)


@dataclass
class FoldInputCache:
    """Prepared folds of one dataset, shared by the sweep points that use it.

    A fold's preparation depends on the fold rule (``folds.k``,
    ``training.seed``), the validation fraction and the preprocess section;
    points that agree on all of them get the same :class:`FoldInputs`.
    """

    _entries: dict[str, FoldInputs] = field(default_factory=dict)
    hits: int = 0

    def get(
        self, dataset: Dataset, fold: int, train_rows: np.ndarray, study: Study
    ) -> FoldInputs:
        """Return the fold's inputs, preparing them on first use."""
        key = _key(fold, study)
        if key in self._entries:
            self.hits += 1
            log.debug("fold %d: reusing the preparation of an earlier point", fold)
            return self._entries[key]
        inputs = prepare_fold(dataset, fold, train_rows, study)
        self._entries[key] = inputs
        return inputs


def _key(fold: int, study: Study) -> str:
    payload = {
        "fold": fold,
        "k": study.folds.k,
        "seed": study.training.seed,
        "validation_fraction": study.training.validation_fraction,
        "preprocess": study.preprocess.model_dump(mode="json"),
    }
    return json.dumps(payload, sort_keys=True)
