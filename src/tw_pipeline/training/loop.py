"""The epoch loop: one compiled TensorFlow call per training epoch.

Small dense networks on a CPU spend a large share of ``model.fit``'s time
outside the matrix products: in the input pipeline's threads, which compete
with the training threads for the few cores, and in Python between batches.
Here the events become tensors once (sharing the arrays' memory where they
are aligned for it), and a whole epoch (every batch's gather, forward pass,
gradients and update) runs as one compiled graph over a shuffled order of
the events drawn with NumPy from the fold's seed. The validation pass is a second compiled graph over large batches.
bench/bench_train.py measures the gain against a plain ``model.fit``.

The numbers are those ``model.fit`` would report: the weighted binary
cross-entropy averaged over events (regularisation included), and the
weighted accuracy at a score of 0.5.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

# The backend must be chosen before Keras is first imported; a user's own
# choice in the environment wins.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from tw_pipeline.training.buffers import is_aligned  # noqa: E402

__all__ = ["EpochResult", "EpochRunner", "add_sums", "weighted_hits"]

# Events per batch of the validation pass: no gradients, so large batches.
_VALIDATION_BATCH = 16_384


class EpochResult(NamedTuple):
    """Loss and accuracy of one pass over a set of events."""

    loss: float
    accuracy: float


class EpochRunner:
    """Train a compiled Keras model epoch by epoch on fixed arrays.

    Args:
        model: the network, compiled with its optimizer and loss.
        fit: scaled inputs, targets (events, 1) and training weights.
        validation: the same for the validation events.
        batch_size: events per training step.
        seed: seed of the per-epoch shuffling.
    """

    def __init__(
        self,
        model: keras.Model,
        fit: tuple[np.ndarray, np.ndarray, np.ndarray],
        validation: tuple[np.ndarray, np.ndarray, np.ndarray],
        batch_size: int,
        seed: int,
    ) -> None:
        self._model = model
        self._loss = keras.losses.BinaryCrossentropy()
        self._events = int(fit[0].shape[0])
        self._batch = min(batch_size, self._events)
        self._rng = np.random.default_rng(seed)

        # Converted once: every epoch gathers its batches from these tensors.
        # They are passed to the compiled functions as arguments rather than
        # captured by them: captured, they stayed alive after training.
        self._x, self._y, self._w = (_as_tensor(array) for array in fit)
        self._val = tuple(_as_tensor(array) for array in validation)

        model.optimizer.build(model.trainable_variables)
        self._train = tf.function(self._train_epoch)
        self._validate = tf.function(self._validation_pass)

    def train_epoch(self) -> EpochResult:
        """Run one epoch over all training events in a new random order."""
        order = tf.constant(self._rng.permutation(self._events), tf.int32)
        loss, accuracy = self._train(order, self._x, self._y, self._w)
        return EpochResult(float(loss), float(accuracy))

    def validate(self) -> EpochResult:
        """Loss and accuracy on the validation events, in inference mode."""
        loss, accuracy = self._validate(*self._val)
        return EpochResult(float(loss), float(accuracy))

    def close(self) -> None:
        """Let go of the events, so that their memory is freed at once.

        The runner and its compiled functions refer to each other, so
        without this the events would wait for Python's cycle collector.
        """
        self._x = self._y = self._w = None
        self._val = ()

    def _step(
        self, x: tf.Tensor, y: tf.Tensor, w: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        model = self._model
        with tf.GradientTape() as tape:
            scores = model(x, training=True)
            loss = self._loss(y, scores, sample_weight=w)
            if model.losses:
                loss = loss + tf.add_n(model.losses)
        gradients = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply(gradients, model.trainable_variables)
        return loss, *weighted_hits(y, scores, w)

    def _train_epoch(
        self, order: tf.Tensor, x: tf.Tensor, y: tf.Tensor, w: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        batch = self._batch
        full = self._events // batch

        # Full batches in a compiled loop; rows of a step are a static-size
        # slice of the epoch's order, so the step is traced once.
        batches = tf.reshape(order[: full * batch], (full, batch))
        sums = (tf.constant(0.0), tf.constant(0.0), tf.constant(0.0))
        for index in tf.range(full):
            sums = add_sums(sums, self._step_on(batches[index], x, y, w))

        # The remaining events form one last, smaller batch, as in model.fit.
        if self._events > full * batch:
            sums = add_sums(sums, self._step_on(order[full * batch :], x, y, w))

        loss_sum, correct, weight = sums
        return loss_sum / self._events, correct / weight

    def _step_on(
        self, rows: tf.Tensor, x: tf.Tensor, y: tf.Tensor, w: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        # Sums over the batch: loss times events, correct weight, weight.
        loss, hits, total = self._step(
            tf.gather(x, rows), tf.gather(y, rows), tf.gather(w, rows)
        )
        return loss * tf.cast(tf.size(rows), tf.float32), hits, total

    def _validation_pass(
        self, x: tf.Tensor, y: tf.Tensor, w: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        events = int(x.shape[0])
        size = min(_VALIDATION_BATCH, events)
        full = events // size

        def chunk_sums(start: tf.Tensor, stop: tf.Tensor) -> tuple[tf.Tensor, ...]:
            scores = self._model(x[start:stop], training=False)
            loss = self._loss(y[start:stop], scores, sample_weight=w[start:stop])
            rows = tf.cast(stop - start, tf.float32)
            return (loss * rows, *weighted_hits(y[start:stop], scores, w[start:stop]))

        sums = (tf.constant(0.0), tf.constant(0.0), tf.constant(0.0))
        for index in tf.range(full):
            sums = add_sums(sums, chunk_sums(index * size, (index + 1) * size))
        if events > full * size:
            sums = add_sums(sums, chunk_sums(tf.constant(full * size), tf.constant(events)))

        loss_sum, correct, weight = sums
        if self._model.losses:
            loss_sum += tf.add_n(self._model.losses) * events
        return loss_sum / events, correct / weight


def _as_tensor(array: np.ndarray) -> tf.Tensor:
    """A float32 tensor of ``array``, sharing its memory where TensorFlow can.

    An aligned float32 array (see ``training.buffers``) is taken over through
    DLPack, without a copy; the tensor keeps it alive. Anything else is
    copied.
    """
    if array.dtype == np.float32 and is_aligned(array):
        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    return tf.constant(array, tf.float32)


def add_sums(
    sums: tuple[tf.Tensor, ...], part: tuple[tf.Tensor, ...]
) -> tuple[tf.Tensor, ...]:
    """Add running sums of a compiled loop element by element."""
    return tuple(a + b for a, b in zip(sums, part, strict=True))


def weighted_hits(
    y: tf.Tensor, scores: tf.Tensor, w: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """Weighted count of events on the right side of 0.5, and the weight sum."""
    hits = tf.cast(tf.equal(y, tf.cast(scores > 0.5, tf.float32)), tf.float32)
    weights = tf.reshape(w, (-1, 1))
    return tf.reduce_sum(hits * weights), tf.reduce_sum(weights)
