"""Scores of a trained network, computed the same way in training and later.

Training scores its test fold here, and ``twpipe apply`` scores new files
here, so that applying a run's models to its own training files gives back
the very numbers the run computed, bit for bit.

That takes care: on CPU, the matrix kernels treat the last few rows of a
batch that does not fill a whole block of rows with a different code path,
whose rounding differs in the last bit. An event's score would then depend
on which other events happen to share its batch. Every batch is therefore
padded with zero rows to a whole number of blocks, so each event always goes
through the same kernel; the padding's outputs are thrown away.
"""

from __future__ import annotations

import os

import numpy as np

# The backend must be chosen before Keras is first imported; a user's own
# choice in the environment wins.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

__all__ = ["PREDICT_BATCH", "ROW_BLOCK", "predict"]

# Events per call into the network: inference needs no small batches.
PREDICT_BATCH = 16_384

# Batches are padded to a multiple of this many rows (see the module notes);
# 64 rows cover the widest vector blocks of current CPUs.
ROW_BLOCK = 64


def predict(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """Score scaled inputs with ``model`` in inference mode.

    Args:
        model: a network with one sigmoid output.
        x: scaled inputs, float32, events times variables.

    Returns:
        One score per event, float64.
    """
    x = np.asarray(x, dtype=np.float32)
    scores = np.empty(x.shape[0], dtype=np.float64)

    # Direct calls, batch by batch: model.predict would compile a new graph
    # for every model and input size, which costs more than it saves here.
    for start in range(0, x.shape[0], PREDICT_BATCH):
        batch = x[start : start + PREDICT_BATCH]
        rows = batch.shape[0]
        padding = -rows % ROW_BLOCK
        if padding:
            batch = np.concatenate(
                [batch, np.zeros((padding, x.shape[1]), dtype=np.float32)]
            )
        output = keras.ops.convert_to_numpy(model(batch, training=False))
        scores[start : start + rows] = output.reshape(-1)[:rows]
    return scores
