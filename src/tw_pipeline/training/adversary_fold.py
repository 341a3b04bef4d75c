"""One fold's adversarial training, between plain training's set-up and its scoring.

:func:`~tw_pipeline.training.train.train_fold` prepares the fold (rows,
scaler, weights, the compiled classifier) and, afterwards, saves the
classifier and scores the events exactly as for plain training; with an
``adversary`` section it calls :func:`train_fold_adversary` in between. So
the saved ``model.keras`` is the classifier alone, and `twpipe apply` and
`twpipe export` treat it like any other.
"""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from tw_pipeline.data.dataset import Dataset
from tw_pipeline.run import atomic
from tw_pipeline.study.models import Study
from tw_pipeline.training.adversary import (
    ADVERSARY_HISTORY_FILE,
    ADVERSARY_MODEL_FILE,
    Arrays,
    train_with_adversary,
)
from tw_pipeline.training.adversary_data import adversary_events
from tw_pipeline.training.fold_inputs import FoldInputs

__all__ = ["train_fold_adversary"]

log = logging.getLogger(__name__)


def train_fold_adversary(
    classifier: keras.Model,
    fit: tuple[np.ndarray, np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray, np.ndarray],
    dataset: Dataset,
    inputs: FoldInputs,
    study: Study,
    fold: int,
    fold_dir: Path,
    progress_prefix: str = "",
) -> tuple[pd.DataFrame, int]:
    """Train the fold's classifier against the adversary; save the adversary.

    Args:
        classifier: the compiled classifier, trained in place.
        fit: its scaled training inputs, targets and training weights.
        validation: the same for its validation events.
        dataset: all events, with the systematic samples.
        inputs: the fold's prepared rows and scaler.
        study: the point's settings, with an adversary section.
        fold: index of the test fold.
        fold_dir: the fold's folder; receives ``adversary.keras`` and
            ``adversary_history.csv``.
        progress_prefix: text put before every progress line.

    Returns:
        The classifier's history (one row per epoch, as plain training
        writes it) and the kept epoch, always the last one.

    Raises:
        InvalidData: if a side of the adversary has no training or
            validation event in this fold.
    """
    settings = study.adversary
    assert settings is not None
    adversary_fit, adversary_validation = adversary_events(dataset, fold, inputs, study)
    label = f"{progress_prefix}fold {fold + 1}/{study.folds.k} "
    log.info(
        "%sadversary (lambda=%g) against %s: %d training and %d validation events; "
        "training.epochs and training.early_stopping are not used, the "
        "classifier trains %d epochs in all",
        label,
        settings.lam,
        settings.sample
        or f"the variable {settings.variable} ({settings.events} events)",
        adversary_fit.events,
        adversary_validation.events,
        settings.classifier_epochs,
    )

    history, adversary_history, adversary = train_with_adversary(
        classifier,
        Arrays(*fit),
        Arrays(*validation),
        adversary_fit,
        adversary_validation,
        settings,
        batch_size=study.training.batch_size,
        seed=study.training.seed + fold,
        progress=label,
    )

    fold_dir.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(fold_dir / ADVERSARY_MODEL_FILE) as temporary:
        adversary.save(temporary)
    atomic.write_text(
        fold_dir / ADVERSARY_HISTORY_FILE,
        adversary_history.to_csv(index=False, float_format="%.6g"),
    )
    return history, len(history)
