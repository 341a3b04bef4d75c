"""What training and evaluating one fold produces: the hand-off to the report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["FoldOutcome", "Scored", "combine_scored"]


@dataclass(frozen=True)
class Scored:
    """Classifier scores of a set of events, with their truth and weights.

    Attributes:
        scores: network output in [0, 1], float64.
        labels: 1 for signal, 0 for background.
        weights: true event weights (never the training weights).
        sample_index: each event's sample, as in :class:`~tw_pipeline.data.dataset.Dataset`.
    """

    scores: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    sample_index: np.ndarray


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
    return Scored(
        scores=np.concatenate([part.scores for part in parts]),
        labels=np.concatenate([part.labels for part in parts]),
        weights=np.concatenate([part.weights for part in parts]),
        sample_index=np.concatenate([part.sample_index for part in parts]),
    )
