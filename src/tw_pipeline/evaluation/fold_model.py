"""A trained fold read back from its folder, as a function from inputs to scores.

Reading the saved model rather than keeping the one in memory means the
permutation ranking is computed with exactly the files a user keeps and
applies later.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["load_fold_scorer"]

# Events per call into the network; inference needs no small batches.
_BATCH = 16_384


def load_fold_scorer(fold_dir: Path) -> Callable[[np.ndarray], np.ndarray]:
    """Load ``model.keras`` and ``scaler.json`` of a fold.

    Args:
        fold_dir: the fold's folder in a point's run folder.

    Returns:
        A function mapping raw inputs (events times variables, in the order
        of the study) to the network's scores, float64.
    """
    # The backend must be chosen before Keras is first imported.
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    from tw_pipeline.training.preprocess import Scaler
    from tw_pipeline.training.train import MODEL_FILE, SCALER_FILE

    fold_dir = Path(fold_dir)
    scaler_path = fold_dir / SCALER_FILE
    scaler = Scaler.from_json(
        json.loads(scaler_path.read_text(encoding="utf-8")), source=str(scaler_path)
    )
    model = keras.saving.load_model(fold_dir / MODEL_FILE, compile=False)

    def score(features: np.ndarray) -> np.ndarray:
        # Scaled batch by batch, so no scaled copy of all inputs is made.
        scores = np.empty(features.shape[0], dtype=np.float64)
        for start in range(0, features.shape[0], _BATCH):
            chunk = scaler.transform(features[start : start + _BATCH])
            output = model(chunk, training=False)
            scores[start : start + chunk.shape[0]] = keras.ops.convert_to_numpy(
                output
            ).reshape(-1)
        return scores

    return score
