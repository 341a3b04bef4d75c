"""Score blocks of events with a run's fold models, following its fold rule.

With an event-number rule, event ``n`` is scored by the model of fold
``n % k`` only: that model never saw the event in training, which keeps the
scores of the training samples unbiased and makes them equal, bit for bit,
to the test-fold scores the run computed. Without one, every model scores
every event and the score is their mean.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from tw_pipeline.apply.bundle import RunBundle
from tw_pipeline.errors import InvalidData, Problem
from tw_pipeline.training.inference import predict

__all__ = ["FoldScorer", "SCORE_DTYPE"]

log = logging.getLogger(__name__)

# Scores are written as float32: the networks compute in float32, so with the
# event-number rule nothing is lost, and ROOT users expect a Float_t.
SCORE_DTYPE = np.dtype(np.float32)

# Largest float that still holds every whole number exactly (2**53).
_EXACT_FLOAT_LIMIT = 2.0**53


class FoldScorer:
    """The fold models of a run, loaded once, scoring one block after another.

    Args:
        bundle: the run, as :func:`~tw_pipeline.apply.bundle.read_run` read it.
    """

    def __init__(self, bundle: RunBundle) -> None:
        import keras  # noqa: PLC0415 - TensorFlow only where inference happens

        self.bundle = bundle
        self.models = {}
        for files in bundle.folds:
            log.debug("loading the model of fold %d from %s", files.fold, files.model)
            self.models[files.fold] = keras.saving.load_model(
                files.model, compile=False
            )
        self.scalers = {files.fold: files.scaler for files in bundle.folds}

    def score(
        self, columns: Mapping[str, np.ndarray], rows: int, source: str
    ) -> np.ndarray:
        """Score one block of events.

        Args:
            columns: the block's columns by name; must hold every variable
                and, for the event-number rule, the event-number column.
            rows: the number of events in the block.
            source: the file and table, named in error messages.

        Returns:
            One score per event, float32.

        Raises:
            InvalidData: when event numbers are not whole numbers.
        """
        bundle = self.bundle

        # The same float32 cast as the load stage, so the inputs are the
        # very numbers training saw.
        features = np.empty((rows, len(bundle.variables)), dtype=np.float32)
        for position, name in enumerate(bundle.variables):
            features[:, position] = columns[name]

        scores = np.empty(rows, dtype=np.float64)
        if bundle.event_number is not None:
            events = _event_numbers(
                columns[bundle.event_number], bundle.event_number, source
            )
            folds = np.mod(events, bundle.k)
            for fold, model in self.models.items():
                picked = np.flatnonzero(folds == fold)
                if picked.size:
                    x = self.scalers[fold].transform(features[picked])
                    scores[picked] = predict(model, x)
        else:
            scores[:] = 0.0
            for fold, model in self.models.items():
                scores += predict(model, self.scalers[fold].transform(features))
            scores /= len(self.models)
        return scores.astype(SCORE_DTYPE)


def _event_numbers(values: np.ndarray, column: str, source: str) -> np.ndarray:
    """Event numbers as int64, refusing values that are not whole numbers."""
    values = np.asarray(values)
    kind = values.dtype.kind
    problem = None
    if kind == "b" or kind not in "iuf":
        problem = f"values of type {values.dtype}"
    elif kind == "u" and values.size and values.max() > np.iinfo(np.int64).max:
        problem = "values beyond 2^63"
    elif kind == "f":
        if not (np.isfinite(values) & (np.floor(values) == values)).all():
            problem = "values that are not whole numbers"
        elif values.size and np.abs(values).max() >= _EXACT_FLOAT_LIMIT:
            problem = "floats too large to hold whole numbers exactly"
    if problem:
        raise InvalidData(
            Problem(
                message=f"holds {problem}; expected whole event numbers",
                source=source,
                path=f"column {column!r} (data.event_number of the run)",
                hint="the fold rule of the run needs the event number of every event",
            )
        )
    return values.astype(np.int64)
