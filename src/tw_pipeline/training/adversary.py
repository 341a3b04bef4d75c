"""Adversarial training of one fold's classifier ("learning to pivot").

The method is that of G. Louppe, M. Kagan and K. Cranmer, "Learning to Pivot
with Adversarial Networks", NeurIPS 2017, arXiv:1611.01046. An adversary
network reads the classifier score of an event and tries to tell whether it
comes from the nominal sample or from its systematic variation. The
classifier is trained on its own loss minus lambda times the adversary's
loss, so it is rewarded for a score the adversary cannot use: a score whose
distribution is the same for both samples. Against a variable
(``adversary.variable``) the adversary instead tells in which quantile bin
of the variable an event lies (softmax, categorical cross-entropy), and the
classifier learns a score independent of the variable.

The schedule, all in the ``adversary`` section:

1. pre-train the classifier alone (``pretrain.classifier`` epochs);
2. pre-train the adversary on the frozen classifier (``pretrain.adversary``);
3. ``iterations`` times: train the classifier against the adversary
   (``epochs.classifier`` epochs of L_clf - lambda * L_adv), then the
   adversary on the updated classifier (``epochs.adversary`` epochs of L_adv).

Both losses are weighted cross-entropies. The classifier's training
events, batches and shuffling are those of plain training (the same seed
gives the same order), and the adversary draws its events from a generator
of its own; with lambda = 0 the classifier therefore follows exactly the
path of plain training for the same number of epochs. The adversary reads
the classifier score in inference mode (no dropout, batch-normalisation
running statistics), the score an analysis will use.

The kept classifier is the one after the last iteration, not the epoch of
lowest validation loss: while the classifier gives up separation for
robustness its own loss rises, and the lowest-loss epoch would be the least
robust one. ``training.epochs`` and ``training.early_stopping`` are not used.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

# The backend must be chosen before Keras is first imported; a user's own
# choice in the environment wins.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from tw_pipeline.study.models import Adversary  # noqa: E402
from tw_pipeline.training.adversary_data import AdversaryEvents  # noqa: E402
from tw_pipeline.training.loop import add_sums, weighted_hits  # noqa: E402
from tw_pipeline.training.network import build_optimizer  # noqa: E402

__all__ = [
    "ADVERSARY_HISTORY_COLUMNS",
    "ADVERSARY_HISTORY_FILE",
    "ADVERSARY_MODEL_FILE",
    "AdversarialRunner",
    "build_adversary",
    "train_with_adversary",
]

log = logging.getLogger(__name__)

ADVERSARY_MODEL_FILE = "adversary.keras"
ADVERSARY_HISTORY_FILE = "adversary_history.csv"
# One row per iteration (0: after pre-training), losses on the training part
# (mean over the iteration's epochs) and on the validation part (at its end).
ADVERSARY_HISTORY_COLUMNS = (
    "iteration",
    "classifier_loss",
    "adversary_loss",
    "combined_loss",
    "val_classifier_loss",
    "val_adversary_loss",
    "val_combined_loss",
)

# Running sums of a pass over events, one tensor per quantity.
Sums = tuple[tf.Tensor, ...]

# Events per batch of the validation passes: no gradients, so large batches.
_VALIDATION_BATCH = 16_384


class Arrays(NamedTuple):
    """Scaled inputs, targets (events, 1) and training weights."""

    x: np.ndarray
    y: np.ndarray
    weights: np.ndarray


class Losses(NamedTuple):
    """One pass of the classifier: loss, accuracy; and the adversary's loss."""

    classifier: float
    accuracy: float
    adversary: float


def build_adversary(settings: Adversary, seed: int) -> keras.Model:
    """Build the adversary: classifier score in, probability "systematic" out,
    or, against a variable, the probability of each of its quantile bins.

    Args:
        settings: the study's adversary section.
        seed: seed of the initial weights.

    Returns:
        An uncompiled Keras model mapping (events, 1) to (events, 1).
    """
    network = settings.network
    inputs = keras.Input(shape=(1,), name="score")
    hidden = inputs
    for index in range(1, network.hidden_layers + 1):
        hidden = keras.layers.Dense(
            network.nodes,
            activation=network.activation,
            # Offset so the adversary's seeds never meet the classifier's.
            kernel_initializer=keras.initializers.GlorotUniform(
                seed=seed + 20_000 + index
            ),
            name=f"adversary_hidden_{index}",
        )(hidden)
    against_variable = settings.variable is not None
    output = keras.layers.Dense(
        settings.bins if against_variable else 1,
        activation="softmax" if against_variable else "sigmoid",
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 20_000),
        name="adversary_output",
    )(hidden)
    return keras.Model(inputs, output, name="adversary")


class AdversarialRunner:
    """Classifier and adversary epochs, each one compiled TensorFlow call.

    Args:
        classifier: the classifier, compiled with its optimizer.
        adversary: the adversary network.
        adversary_optimizer: its optimizer.
        fit: the classifier's training events.
        validation: the classifier's validation events.
        adversary_fit: the adversary's training events.
        adversary_validation: the adversary's validation events.
        batch_size: events per step (the adversary's batch is at most its
            number of events).
        lam: the trade-off lambda.
        seed: seed of the shuffling; the classifier's order is the one plain
            training draws from the same seed.
    """

    def __init__(
        self,
        classifier: keras.Model,
        adversary: keras.Model,
        adversary_optimizer: keras.optimizers.Optimizer,
        fit: Arrays,
        validation: Arrays,
        adversary_fit: AdversaryEvents,
        adversary_validation: AdversaryEvents,
        batch_size: int,
        lam: float,
        seed: int,
        *,
        bins: bool = False,
    ) -> None:
        # bins: the adversary tells quantile bins of a variable (targets are
        # bin indices), not a sample from its variation.
        self._classifier = classifier
        self._adversary = adversary
        self._adversary_optimizer = adversary_optimizer
        self._bce = keras.losses.BinaryCrossentropy()
        # The adversary's own loss: which sample, or which bin of the variable.
        self._adversary_loss_fn = (
            keras.losses.SparseCategoricalCrossentropy() if bins else self._bce
        )
        self._events = int(fit.x.shape[0])
        self._batch = min(batch_size, self._events)
        self._adversary_events = adversary_fit.events
        self._adversary_batch = min(batch_size, self._adversary_events)
        self._lam = tf.constant(lam, tf.float32)
        # Two generators: the classifier's draws stay those of plain training.
        self._rng = np.random.default_rng(seed)
        self._adversary_rng = np.random.default_rng([seed, 1])

        def tensors(arrays: tuple[np.ndarray, ...]) -> tuple[tf.Tensor, ...]:
            return tuple(tf.constant(array, tf.float32) for array in arrays)

        self._fit = tensors(fit)
        self._val = tensors(validation)
        self._adv_fit = tensors(adversary_fit)
        self._adv_val = tensors(adversary_validation)

        classifier.optimizer.build(classifier.trainable_variables)
        adversary_optimizer.build(adversary.trainable_variables)
        self._plain_epoch = tf.function(self._plain_epoch_graph)
        self._combined_epoch = tf.function(self._combined_epoch_graph)
        self._adversary_epoch = tf.function(self._adversary_epoch_graph)
        self._validation = tf.function(self._validation_graph)

    # -- what the schedule calls ---------------------------------------------

    def classifier_epoch(self, *, against_adversary: bool) -> Losses:
        """One epoch of the classifier, alone or against the adversary.

        Returns:
            The mean classifier loss and accuracy over its events, and the
            mean adversary loss over the adversary batches it was trained
            against (NaN when alone).
        """
        order = tf.constant(self._rng.permutation(self._events), tf.int32)
        if not against_adversary:
            loss, accuracy = self._plain_epoch(order)
            return Losses(float(loss), float(accuracy), math.nan)
        steps = -(-self._events // self._batch)
        rows = self._adversary_rows(steps)
        loss, accuracy, adversary_loss = self._combined_epoch(order, rows)
        return Losses(float(loss), float(accuracy), float(adversary_loss))

    def adversary_epoch(self) -> float:
        """One epoch of the adversary on the frozen classifier; its mean loss."""
        order = self._adversary_rng.permutation(self._adversary_events)
        return float(self._adversary_epoch(tf.constant(order, tf.int32)))

    def validate(self) -> Losses:
        """Classifier and adversary losses on their validation events."""
        loss, accuracy, adversary_loss = self._validation()
        return Losses(float(loss), float(accuracy), float(adversary_loss))

    # -- compiled parts ------------------------------------------------------

    def _adversary_rows(self, steps: int) -> tf.Tensor:
        # Successive shuffles of the adversary's events, one batch per step.
        needed = steps * self._adversary_batch
        rounds = -(-needed // self._adversary_events)
        rows = np.concatenate(
            [
                self._adversary_rng.permutation(self._adversary_events)
                for _ in range(rounds)
            ]
        )[:needed]
        return tf.constant(rows.reshape(steps, self._adversary_batch), tf.int32)

    def _classifier_loss(
        self, x: tf.Tensor, y: tf.Tensor, w: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        # As plain training computes it: weighted BCE plus regularisation.
        scores = self._classifier(x, training=True)
        loss = self._bce(y, scores, sample_weight=w)
        if self._classifier.losses:
            loss = loss + tf.add_n(self._classifier.losses)
        return loss, scores

    def _adversary_loss(
        self, x: tf.Tensor, z: tf.Tensor, w: tf.Tensor, *, training: bool
    ) -> tf.Tensor:
        scores = self._classifier(x, training=False)
        predicted = self._adversary(scores, training=training)
        return self._adversary_loss_fn(z, predicted, sample_weight=w)

    def _apply(
        self,
        loss: tf.Tensor,
        tape: tf.GradientTape,
        model: keras.Model,
        optimizer: keras.optimizers.Optimizer,
    ) -> None:
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(gradients, model.trainable_variables)

    def _plain_step(self, rows: tf.Tensor) -> tuple[tf.Tensor, ...]:
        x, y, w = (tf.gather(t, rows) for t in self._fit)
        with tf.GradientTape() as tape:
            loss, scores = self._classifier_loss(x, y, w)
        self._apply(loss, tape, self._classifier, self._classifier.optimizer)
        size = tf.cast(tf.size(rows), tf.float32)
        return (loss * size, *weighted_hits(y, scores, w), tf.constant(0.0))

    def _combined_step(
        self, rows: tf.Tensor, adversary_rows: tf.Tensor
    ) -> tuple[tf.Tensor, ...]:
        x, y, w = (tf.gather(t, rows) for t in self._fit)
        xa, za, wa = (tf.gather(t, adversary_rows) for t in self._adv_fit)
        with tf.GradientTape() as tape:
            loss, scores = self._classifier_loss(x, y, w)
            adversary_loss = self._adversary_loss(xa, za, wa, training=False)
            combined = loss - self._lam * adversary_loss
        self._apply(combined, tape, self._classifier, self._classifier.optimizer)
        size = tf.cast(tf.size(rows), tf.float32)
        return (loss * size, *weighted_hits(y, scores, w), adversary_loss)

    def _plain_epoch_graph(self, order: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        loss_sum, correct, weight, _ = self._over_batches(
            order, lambda rows, _: self._plain_step(rows)
        )
        return loss_sum / self._events, correct / weight

    def _combined_epoch_graph(
        self, order: tf.Tensor, adversary_rows: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        loss_sum, correct, weight, adversary_sum = self._over_batches(
            order, lambda rows, step: self._combined_step(rows, adversary_rows[step])
        )
        steps = tf.cast(tf.shape(adversary_rows)[0], tf.float32)
        return loss_sum / self._events, correct / weight, adversary_sum / steps

    def _over_batches(
        self, order: tf.Tensor, step: Callable[[tf.Tensor, Any], Sums]
    ) -> Sums:
        # The batching of plain training: full batches, then the remainder.
        batch = self._batch
        full = self._events // batch
        batches = tf.reshape(order[: full * batch], (full, batch))
        sums = (tf.constant(0.0),) * 4
        for index in tf.range(full):
            sums = add_sums(sums, step(batches[index], index))
        if self._events > full * batch:
            sums = add_sums(sums, step(order[full * batch :], full))
        return sums

    def _adversary_epoch_graph(self, order: tf.Tensor) -> tf.Tensor:
        batch = self._adversary_batch
        events = self._adversary_events
        full = events // batch

        def step(rows: tf.Tensor) -> tf.Tensor:
            x, z, w = (tf.gather(t, rows) for t in self._adv_fit)
            with tf.GradientTape() as tape:
                loss = self._adversary_loss(x, z, w, training=True)
            self._apply(loss, tape, self._adversary, self._adversary_optimizer)
            return loss * tf.cast(tf.size(rows), tf.float32)

        batches = tf.reshape(order[: full * batch], (full, batch))
        total = tf.constant(0.0)
        for index in tf.range(full):
            total += step(batches[index])
        if events > full * batch:
            total += step(order[full * batch :])
        return total / events

    def _validation_graph(self) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        x, y, w = self._val
        loss_sum, correct, weight = _chunked(
            x, lambda a, b: _chunk_sums(self._classifier, self._bce, x, y, w, a, b)
        )
        events = float(x.shape[0])
        if self._classifier.losses:
            loss_sum += tf.add_n(self._classifier.losses) * events
        xa, za, wa = self._adv_val
        adversary_sum, _, _ = _chunked(
            xa,
            lambda a, b: (
                self._adversary_loss(xa[a:b], za[a:b], wa[a:b], training=False)
                * tf.cast(b - a, tf.float32),
                tf.constant(0.0),
                tf.constant(0.0),
            ),
        )
        return loss_sum / events, correct / weight, adversary_sum / float(xa.shape[0])


def train_with_adversary(
    classifier: keras.Model,
    fit: Arrays,
    validation: Arrays,
    adversary_fit: AdversaryEvents,
    adversary_validation: AdversaryEvents,
    settings: Adversary,
    *,
    batch_size: int,
    seed: int,
    progress: str = "",
) -> tuple[pd.DataFrame, pd.DataFrame, keras.Model]:
    """Run the adversarial schedule on one fold's compiled classifier.

    Args:
        classifier: the fold's classifier, compiled with the study's optimizer;
            trained in place.
        fit: its training events; validation: its validation events.
        adversary_fit: the adversary's training events.
        adversary_validation: the adversary's validation events.
        settings: the adversary section.
        batch_size: events per step.
        seed: the fold's seed.
        progress: text put before every progress line.

    Returns:
        ``(history, adversary_history, adversary)``: one row per classifier
        epoch in the columns of plain training's history (the loss is the
        classifier's own), one row per iteration with the three losses (see
        ``ADVERSARY_HISTORY_COLUMNS``), and the trained adversary.
    """
    adversary = build_adversary(settings, seed)
    runner = AdversarialRunner(
        classifier,
        adversary,
        build_optimizer(settings.optimizer),
        fit,
        validation,
        adversary_fit,
        adversary_validation,
        batch_size,
        settings.lam,
        seed,
        bins=settings.variable is not None,
    )
    lam = settings.lam
    epochs: list[dict[str, float]] = []
    iterations: list[dict[str, float]] = []

    def classifier_epochs(count: int, *, against: bool) -> list[Losses]:
        passes = []
        for _ in range(count):
            started = time.perf_counter()
            trained = runner.classifier_epoch(against_adversary=against)
            validated = runner.validate()
            epochs.append(
                {
                    "epoch": len(epochs) + 1,
                    "loss": trained.classifier,
                    "val_loss": validated.classifier,
                    "accuracy": trained.accuracy,
                    "val_accuracy": validated.accuracy,
                    "seconds": time.perf_counter() - started,
                }
            )
            passes.append(trained)
        return passes

    def record(iteration: int, clf: list[float], adv: list[float]) -> None:
        validated = runner.validate()
        clf_loss = float(np.mean(clf)) if clf else math.nan
        adv_loss = float(np.mean(adv)) if adv else math.nan
        iterations.append(
            {
                "iteration": iteration,
                "classifier_loss": clf_loss,
                "adversary_loss": adv_loss,
                "combined_loss": clf_loss - lam * adv_loss,
                "val_classifier_loss": validated.classifier,
                "val_adversary_loss": validated.adversary,
                "val_combined_loss": validated.classifier - lam * validated.adversary,
            }
        )
        log.info(
            "%siteration %d/%d: val L_clf=%.4f L_adv=%.4f L_clf-%g*L_adv=%.4f",
            progress,
            iteration,
            settings.iterations,
            validated.classifier,
            validated.adversary,
            lam,
            iterations[-1]["val_combined_loss"],
        )

    # Pre-training: the classifier alone, then the adversary on it.
    passes = classifier_epochs(settings.pretrain.classifier, against=False)
    adversary_losses = [
        runner.adversary_epoch() for _ in range(settings.pretrain.adversary)
    ]
    record(0, [p.classifier for p in passes], adversary_losses)

    for iteration in range(1, settings.iterations + 1):
        passes = classifier_epochs(settings.epochs.classifier, against=True)
        adversary_losses = [
            runner.adversary_epoch() for _ in range(settings.epochs.adversary)
        ]
        record(iteration, [p.classifier for p in passes], adversary_losses)
        if not math.isfinite(iterations[-1]["val_combined_loss"]):
            log.warning(
                "%sthe losses are not finite in iteration %d; stopping (a smaller "
                "learning rate or lambda usually helps)",
                progress,
                iteration,
            )
            break

    history = pd.DataFrame(
        epochs,
        columns=["epoch", "loss", "val_loss", "accuracy", "val_accuracy", "seconds"],
    ).astype({"epoch": np.int64})
    adversary_history = pd.DataFrame(
        iterations, columns=list(ADVERSARY_HISTORY_COLUMNS)
    )
    return history, adversary_history.astype({"iteration": np.int64}), adversary


def _chunk_sums(
    model: keras.Model,
    loss_fn: keras.losses.Loss,
    x: tf.Tensor,
    y: tf.Tensor,
    w: tf.Tensor,
    start: tf.Tensor,
    stop: tf.Tensor,
) -> Sums:
    scores = model(x[start:stop], training=False)
    loss = loss_fn(y[start:stop], scores, sample_weight=w[start:stop])
    rows = tf.cast(stop - start, tf.float32)
    return (loss * rows, *weighted_hits(y[start:stop], scores, w[start:stop]))


def _chunked(x: tf.Tensor, sums_of: Callable[[Any, Any], Sums]) -> Sums:
    # Large inference-mode chunks, as plain training's validation pass uses.
    events = int(x.shape[0])
    size = min(_VALIDATION_BATCH, events)
    full = events // size
    sums = (tf.constant(0.0),) * 3
    for index in tf.range(full):
        sums = add_sums(sums, sums_of(index * size, (index + 1) * size))
    if events > full * size:
        sums = add_sums(sums, sums_of(tf.constant(full * size), tf.constant(events)))
    return sums
