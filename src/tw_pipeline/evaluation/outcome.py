"""What training and evaluating one fold produces: the hand-off to the report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from tw_pipeline.data.dataset import Dataset

__all__ = ["FoldOutcome", "Scored", "combine_scored"]


class Scored:
    """Classifier scores of a set of events, with their truth and weights.

    Made from rows of a dataset (:meth:`of_rows`), it keeps only the rows and
    the scores, and takes labels, weights and samples from the dataset when
    they are asked for. A run keeps the scores of every fold, training events
    included, until its report is written; copies of the truth beside them
    would take more memory than the scores themselves.

    Attributes:
        scores: classifier output in [0, 1]; float32 for the network, whose
            output it is exactly.
        labels: 1 for signal, 0 for background.
        weights: true event weights (never the training weights).
        sample_index: each event's sample, as in :class:`~tw_pipeline.data.dataset.Dataset`.
    """

    __slots__ = ("_rows", "_sample_index", "_source", "_weights", "_labels", "scores")

    def __init__(
        self,
        scores: np.ndarray,
        labels: np.ndarray,
        weights: np.ndarray,
        sample_index: np.ndarray,
    ) -> None:
        self.scores = scores
        self._labels, self._weights, self._sample_index = labels, weights, sample_index
        self._rows: np.ndarray | None = None
        self._source: _Truth | None = None

    @classmethod
    def of_rows(cls, scores: np.ndarray, dataset: Dataset, rows: np.ndarray) -> Scored:
        """Scores of the events at ``rows`` of ``dataset``, in that order."""
        truth = _Truth(dataset.labels, dataset.weights, dataset.sample_index)
        return cls._pointing(scores, _compact(rows), truth)

    @classmethod
    def _pointing(cls, scores: np.ndarray, rows: np.ndarray, source: _Truth) -> Scored:
        scored = cls.__new__(cls)
        scored.scores = scores
        scored._rows, scored._source = rows, source
        return scored

    @property
    def labels(self) -> np.ndarray:
        """1 for signal, 0 for background."""
        if self._source is None:
            return self._labels
        return self._source.labels[self._rows]

    @property
    def weights(self) -> np.ndarray:
        """True event weights."""
        if self._source is None:
            return self._weights
        return self._source.weights[self._rows]

    @property
    def sample_index(self) -> np.ndarray:
        """Each event's sample."""
        if self._source is None:
            return self._sample_index
        return self._source.sample_index[self._rows]

    def __len__(self) -> int:
        return int(np.size(self.scores))


@dataclass(frozen=True)
class _Truth:
    """The per-event truth of a dataset that scored rows point into."""

    labels: np.ndarray
    weights: np.ndarray
    sample_index: np.ndarray


def _compact(rows: np.ndarray) -> np.ndarray:
    # 32-bit row numbers halve the memory for any dataset that fits them.
    rows = np.asarray(rows)
    if rows.size and rows.max() < np.iinfo(np.int32).max:
        return rows.astype(np.int32)
    return rows


@dataclass(frozen=True)
class FoldOutcome:
    """Everything one fold's training and evaluation left behind.

    Attributes:
        fold: index of the test fold.
        history: one row per epoch with columns epoch, loss, val_loss,
            accuracy, val_accuracy (weighted, on the training and the
            validation part of the training folds).
        train: scores of the training folds' events (validation part included).
        test: scores of the test fold's events.
        metrics: JSON-ready numbers of the fold (see ``evaluation.metrics``).
    """

    fold: int
    history: pd.DataFrame
    train: Scored
    test: Scored
    metrics: dict[str, Any] = field(default_factory=dict)


def combine_scored(parts: Sequence[Scored]) -> Scored:
    """Concatenate scored events, e.g. the test events of all folds."""
    sources = {id(part._source) for part in parts}
    if parts and parts[0]._source is not None and len(sources) == 1:
        # Rows of one dataset stay rows: no copy of the truth is made.
        return Scored._pointing(
            np.concatenate([part.scores for part in parts]),
            np.concatenate([part._rows for part in parts]),
            parts[0]._source,
        )
    return Scored(
        scores=np.concatenate([part.scores for part in parts]),
        labels=np.concatenate([part.labels for part in parts]),
        weights=np.concatenate([part.weights for part in parts]),
        sample_index=np.concatenate([part.sample_index for part in parts]),
    )
