"""Train and evaluate the model of one fold.

One call of :func:`train_fold` is one model: it trains on all folds but the
test fold (holding out a validation part of them), keeps the epoch with the
lowest validation loss, writes the fold's artefacts and scores the training
and test events with their true weights.
"""

from __future__ import annotations

import gc
import logging
import math
import os
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

# The backend must be chosen before Keras is first imported; a user's own
# choice in the environment wins.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

from tw_pipeline.data.dataset import Dataset  # noqa: E402
from tw_pipeline.evaluation.metrics import fold_metrics  # noqa: E402
from tw_pipeline.evaluation.outcome import FoldOutcome, Scored  # noqa: E402
from tw_pipeline.run import atomic  # noqa: E402
from tw_pipeline.run.memory import release_free_memory  # noqa: E402
from tw_pipeline.study.models import EarlyStopping, Study  # noqa: E402
from tw_pipeline.training.fold_inputs import (  # noqa: E402
    FoldInputCache,
    prepare_fold,
)
from tw_pipeline.training.inference import PREDICT_BATCH, predict  # noqa: E402
from tw_pipeline.training.loop import EpochRunner  # noqa: E402
from tw_pipeline.training.network import build_model, build_optimizer  # noqa: E402
from tw_pipeline.training.preprocess import Scaler  # noqa: E402

__all__ = [
    "HISTORY_COLUMNS",
    "HISTORY_FILE",
    "MODEL_FILE",
    "SCALER_FILE",
    "TEST_SCORES_FILE",
    "train_fold",
]

log = logging.getLogger(__name__)

MODEL_FILE = "model.keras"
SCALER_FILE = "scaler.json"
HISTORY_FILE = "history.csv"
TEST_SCORES_FILE = "test_scores.npz"
# One row per epoch; "seconds" is the epoch's wall time, validation included.
HISTORY_COLUMNS = ("epoch", "loss", "val_loss", "accuracy", "val_accuracy", "seconds")


def train_fold(
    dataset: Dataset,
    fold: int,
    fold_index_array: np.ndarray,
    study: Study,
    fold_dir: Path | str,
    *,
    progress_prefix: str = "",
    cache: FoldInputCache | None = None,
) -> FoldOutcome:
    """Train the model of test fold ``fold``, save it and score the events.

    Steps: the events of all other folds are split into a training and a
    validation part (stratified, ``training.validation_fraction``); the
    scaler is fitted on the training part; training weights follow the
    study's negative-weight policy and class balancing; the network trains
    with binary cross-entropy and those weights, stops early when the
    validation loss stalls, and the epoch with the lowest validation loss is
    kept (also without early stopping). Training and test events are then
    scored, and the metrics use their true weights.

    Randomness (validation split, initial weights, dropout, shuffling) is
    seeded from ``training.seed`` plus the fold index, so the same study on
    the same machine gives the same numbers. This also seeds Python's and
    NumPy's global generators.

    Files written atomically in ``fold_dir``: ``model.keras`` (the kept
    model), ``scaler.json`` (the scaler plus the weight settings used),
    ``history.csv`` (one row per epoch) and ``test_scores.npz`` (the score
    of every test event, with its sample and event number, so that later
    applications of the model can be checked against it).

    Args:
        dataset: all events of the study.
        fold: index of the test fold.
        fold_index_array: fold of every event (see ``assign_folds``).
        study: the point's study settings.
        fold_dir: folder for the fold's files; created if missing.
        progress_prefix: text put before every progress line, e.g. the point.
        cache: prepared folds shared with other points of the sweep; the fold
            is prepared afresh when None.

    Returns:
        The history, the scores of training and test events and the metrics
        (see ``evaluation.metrics.fold_metrics``).

    Raises:
        ValueError: if ``fold_index_array`` does not fit the dataset or the
            fold does not exist.
        InvalidData: if the training part lacks events of a class, or the
            training weights of a class sum to zero or less.
    """
    started = time.perf_counter()
    fold_dir = Path(fold_dir)
    k = study.folds.k
    settings = study.training
    fold_index_array = np.asarray(fold_index_array)
    test_rows, train_rows = _fold_rows(dataset, fold, fold_index_array, k)

    # Every random choice of this fold follows from one seed.
    fold_seed = settings.seed + fold
    keras.backend.clear_session()
    keras.utils.set_random_seed(fold_seed)

    if cache is None:
        inputs = prepare_fold(dataset, fold, train_rows, study)
    else:
        inputs = cache.get(dataset, fold, train_rows, study)
    scaler = inputs.scaler
    fit, validation = (
        _Arrays(inputs.x(dataset, part), inputs.y(dataset, part), inputs.weights(part))
        for part in ("fit", "val")
    )
    log.info(
        "%sfold %d/%d: training on %d events, validating on %d, testing on %d",
        progress_prefix,
        fold + 1,
        k,
        fit.events,
        validation.events,
        test_rows.size,
    )

    model = build_model(study.network, len(dataset.variables), fold_seed)
    # Compiled so the saved model records its optimizer and loss; the
    # training itself runs in the compiled epoch loop of training.loop.
    model.compile(
        optimizer=build_optimizer(study.optimizer),
        loss=keras.losses.BinaryCrossentropy(),
        weighted_metrics=[keras.metrics.BinaryAccuracy(name="accuracy")],
    )
    if study.adversary is None:
        runner = EpochRunner(model, fit, validation, settings.batch_size, fold_seed)
        del fit, validation
        history, best_epoch = _train_plain(model, runner, study, fold, progress_prefix)
        runner.close()
    else:
        # Imported here: plain training never builds the adversary's graphs.
        from tw_pipeline.training.adversary_fold import train_fold_adversary

        history, best_epoch = train_fold_adversary(
            model, fit, validation, dataset, inputs, study, fold, fold_dir,
            progress_prefix,
        )
        del fit, validation
    # The fold's training inputs are freed before scoring. Once per fold, the
    # cycle collector also frees the graphs and models of the fold before,
    # which sit in reference cycles; it costs a quarter of a second.
    gc.collect()
    release_free_memory()

    _write_artefacts(fold_dir, model, scaler, history, study, fold)

    train_scored = _score(model, scaler, dataset, train_rows)
    test_scored = _score(model, scaler, dataset, test_rows)
    _write_test_scores(fold_dir / TEST_SCORES_FILE, dataset, test_rows, test_scored)
    metrics = fold_metrics(
        fold,
        train_scored,
        test_scored,
        epochs_trained=len(history),
        best_epoch=best_epoch,
        seconds=time.perf_counter() - started,
    )
    release_free_memory()
    return FoldOutcome(
        fold=fold,
        history=history,
        train=train_scored,
        test=test_scored,
        metrics=metrics,
    )


def _train_plain(
    model: keras.Model,
    runner: EpochRunner,
    study: Study,
    fold: int,
    progress_prefix: str,
) -> tuple[pd.DataFrame, int | None]:
    """Train epoch by epoch, stop early, keep the epoch of lowest validation loss."""
    settings = study.training
    k = study.folds.k

    rows: list[dict[str, float]] = []
    best = _KeepBest()
    patience = _Patience(settings.early_stopping)
    for epoch in range(1, settings.epochs + 1):
        epoch_started = time.perf_counter()
        trained = runner.train_epoch()
        validated = runner.validate()
        rows.append(
            {
                "epoch": epoch,
                "loss": trained.loss,
                "val_loss": validated.loss,
                "accuracy": trained.accuracy,
                "val_accuracy": validated.accuracy,
                "seconds": time.perf_counter() - epoch_started,
            }
        )
        log.info(
            "%sfold %d/%d epoch %d/%d loss=%.4f val_loss=%.4f (%.1fs)",
            progress_prefix, fold + 1, k, epoch, settings.epochs,
            trained.loss, validated.loss, rows[-1]["seconds"],
        )
        best.update(epoch, validated.loss, model)

        if not math.isfinite(trained.loss):
            log.warning(
                "%sfold %d/%d: the training loss is %s in epoch %d; stopping "
                "(a smaller optimizer.learning_rate usually helps)",
                progress_prefix, fold + 1, k, trained.loss, epoch,
            )
            break
        if patience.exhausted(validated.loss):
            break

    history = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS)).astype(
        {"epoch": np.int64}
    )
    if best.restore(model):
        log.info(
            "%sfold %d/%d: %d epochs run, keeping epoch %d (val_loss=%.4f)",
            progress_prefix,
            fold + 1,
            k,
            len(history),
            best.epoch,
            best.loss,
        )
    else:
        log.warning(
            "%sfold %d/%d: no epoch had a finite validation loss; the model "
            "keeps its last weights",
            progress_prefix,
            fold + 1,
            k,
        )

    return history, best.epoch


def _fold_rows(
    dataset: Dataset, fold: int, fold_index_array: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    if fold_index_array.shape != (len(dataset),):
        msg = (
            f"fold_index_array must hold one fold per event ({len(dataset)}). "
            f"Got shape {fold_index_array.shape}."
        )
        raise ValueError(msg)
    if not 0 <= fold < k:
        msg = f"fold must be between 0 and {k - 1}. Got {fold!r} instead."
        raise ValueError(msg)
    is_test = fold_index_array == fold
    if not is_test.any() or is_test.all():
        msg = f"fold {fold} must hold some but not all events; check the fold indices."
        raise ValueError(msg)
    return np.flatnonzero(is_test), np.flatnonzero(~is_test)


class _Arrays(NamedTuple):
    """What Keras trains on: scaled inputs, targets and training weights."""

    x: np.ndarray
    y: np.ndarray
    weights: np.ndarray

    @property
    def events(self) -> int:
        return int(self.x.shape[0])


def _score(
    model: keras.Model, scaler: Scaler, dataset: Dataset, rows: np.ndarray
) -> Scored:
    # Block by block, so that no scaled copy of all the rows is ever held;
    # the blocks are those predict() uses, so the scores are the same. They
    # are kept in float32, the network's own output type, so nothing is lost.
    scores = np.empty(rows.size, dtype=np.float32)
    for start in range(0, rows.size, PREDICT_BATCH):
        block = rows[start : start + PREDICT_BATCH]
        x = scaler.transform(dataset.features[block], in_place=True)
        scores[start : start + block.size] = predict(model, x)
    return Scored.of_rows(scores, dataset, rows)


def _write_artefacts(
    fold_dir: Path,
    model: keras.Model,
    scaler: Scaler,
    history: pd.DataFrame,
    study: Study,
    fold: int,
) -> None:
    fold_dir.mkdir(parents=True, exist_ok=True)

    with atomic.atomic_path(fold_dir / MODEL_FILE) as temporary:
        model.save(temporary)

    # The scaler's own keys stay at the top level, so Scaler.from_json reads
    # this file as it is; the rest records how the model was trained.
    preprocessing: dict[str, Any] = scaler.to_json()
    preprocessing["training_weights"] = {
        "negative_weights": study.preprocess.negative_weights,
        "balance_classes": study.preprocess.balance_classes,
        "mean_weight": 1.0,
    }
    preprocessing["fold"] = fold
    preprocessing["k"] = study.folds.k
    atomic.write_json(fold_dir / SCALER_FILE, preprocessing)

    atomic.write_text(
        fold_dir / HISTORY_FILE, history.to_csv(index=False, float_format="%.6g")
    )


def _write_test_scores(
    path: Path, dataset: Dataset, rows: np.ndarray, scored: Scored
) -> None:
    # Kept exactly (binary, float64): `twpipe apply` on the training files
    # must reproduce these numbers bit for bit, and this file is the proof.
    arrays: dict[str, np.ndarray] = {
        "row": rows.astype(np.int64),
        "sample_index": dataset.sample_index[rows],
        "sample_names": np.asarray(dataset.sample_names, dtype=str),
        "score": scored.scores.astype(np.float64),
    }
    if dataset.event_number is not None:
        arrays["event_number"] = dataset.event_number[rows]
    with atomic.atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.savez_compressed(handle, **arrays)


class _KeepBest:
    """Remember the weights of the epoch with the lowest validation loss.

    Kept in memory and restored after training, so the saved model is the
    best one whether or not early stopping ended the training.
    """

    def __init__(self) -> None:
        self.epoch: int | None = None
        self.loss = math.inf
        self._weights: list[np.ndarray] | None = None

    def update(self, epoch: int, loss: float, model: keras.Model) -> None:
        """Take the model's weights if ``loss`` is the lowest so far."""
        if math.isfinite(loss) and loss < self.loss:
            self.loss = float(loss)
            self.epoch = epoch
            self._weights = model.get_weights()

    def restore(self, model: keras.Model) -> bool:
        """Put the remembered weights back into ``model``.

        Returns:
            False, leaving ``model`` as it is, if no epoch had a finite
            validation loss.
        """
        if self._weights is None:
            return False
        model.set_weights(self._weights)
        return True


class _Patience:
    """Early stopping: count epochs since the validation loss last improved.

    An epoch improves when its validation loss is below the best so far by
    more than ``min_delta``; training stops after ``patience`` epochs in a
    row without improvement. Without settings it never stops training.
    """

    def __init__(self, settings: EarlyStopping | None) -> None:
        self._settings = settings
        self._best = math.inf
        self._waited = 0

    def exhausted(self, loss: float) -> bool:
        """Record one epoch's validation loss; True when training should stop."""
        if self._settings is None:
            return False
        if math.isfinite(loss) and loss < self._best - self._settings.min_delta:
            self._best = loss
            self._waited = 0
            return False
        self._waited += 1
        return self._waited >= self._settings.patience
