"""Input scaling and training weights, fitted on the training events only.

A scaler learns one offset and one scale per input variable from the
training part of a fold and maps ``x`` to ``(x - offset) / scale``. It is
stored as plain JSON next to the model, so the model can be applied later
without pickles or this package's internals.

Training weights start from the true event weights, apply the study's policy
for negative weights, balance the classes and are normalised to a mean of
one. They are used for training only; evaluation uses the true weights.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tw_pipeline.errors import InvalidData, Problem

__all__ = [
    "NEGATIVE_WEIGHT_POLICIES",
    "SCALERS",
    "Scaler",
    "fit_scaler",
    "training_weights",
]

log = logging.getLogger(__name__)

SCALERS = ("standard", "minmax", "robust", "none")

# Rows per block when statistics are accumulated in float64.
_BLOCK_ROWS = 65_536
NEGATIVE_WEIGHT_POLICIES = ("keep", "zero", "abs", "drop")


@dataclass(frozen=True)
class Scaler:
    """A fitted per-variable affine map: ``(x - offsets) / scales``.

    Attributes:
        kind: how it was fitted: standard, minmax, robust or none.
        variables: input variable names, in column order.
        offsets: value subtracted from each column.
        scales: value each column is divided by after the subtraction;
            never zero.
    """

    kind: str
    variables: tuple[str, ...]
    offsets: tuple[float, ...]
    scales: tuple[float, ...]

    def transform(self, x: np.ndarray, *, in_place: bool = False) -> np.ndarray:
        """Scale the columns of ``x``; returns a new float32 array.

        Args:
            x: events times variables, columns in the order of ``variables``.
            in_place: scale a float32 ``x`` itself instead of a copy, for
                callers that own a fresh copy already (it saves one copy of
                the inputs in memory).

        Raises:
            ValueError: if ``x`` does not have one column per variable.
        """
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != len(self.variables):
            msg = (
                f"expected an array with {len(self.variables)} columns "
                f"({', '.join(self.variables)}). Received shape {x.shape}."
            )
            raise ValueError(msg)
        offsets = np.asarray(self.offsets, dtype=np.float32)
        scales = np.asarray(self.scales, dtype=np.float32)
        # One output array, scaled in place: the same arithmetic as
        # (x - offsets) / scales without its temporary.
        if in_place and x.dtype == np.float32:
            out = x
        else:
            out = x.astype(np.float32, copy=True)
        out -= offsets
        out /= scales
        return out

    def to_json(self) -> dict[str, Any]:
        """Return the scaler as a JSON-ready dictionary."""
        return {
            "kind": self.kind,
            "variables": list(self.variables),
            "offsets": list(self.offsets),
            "scales": list(self.scales),
        }

    @classmethod
    def from_json(cls, payload: Mapping[str, Any], source: str | None = None) -> Scaler:
        """Rebuild a scaler from :meth:`to_json` output.

        Keys other than those of :meth:`to_json` are ignored, so the payload
        may be a whole preprocessing file that also records other settings.

        Args:
            payload: the decoded JSON object.
            source: the file it was read from, named in error messages.

        Raises:
            InvalidData: if a key is missing or the lists do not fit together.
        """
        required = ("kind", "variables", "offsets", "scales")
        missing = [key for key in required if key not in payload]
        if missing:
            raise InvalidData(
                Problem(
                    message=f"the preprocessing record lacks {', '.join(missing)}",
                    source=source,
                    hint="the file is damaged or was not written by twpipe; "
                    "rerun the study to recreate it",
                )
            )

        kind = str(payload["kind"])
        variables = tuple(str(name) for name in payload["variables"])
        offsets = tuple(float(value) for value in payload["offsets"])
        scales = tuple(float(value) for value in payload["scales"])
        problem = None
        if kind not in SCALERS:
            problem = f"unknown scaler kind {kind!r}; expected one of {SCALERS}"
        elif not len(variables) == len(offsets) == len(scales):
            problem = (
                f"{len(variables)} variables but {len(offsets)} offsets and "
                f"{len(scales)} scales"
            )
        elif not all(np.isfinite(offsets)) or not all(
            np.isfinite(s) and s != 0 for s in scales
        ):
            problem = "offsets and scales must be finite, and scales non-zero"
        if problem:
            raise InvalidData(
                Problem(message=problem, source=source, hint="rerun the study")
            )
        return cls(kind=kind, variables=variables, offsets=offsets, scales=scales)


def fit_scaler(
    kind: str,
    x: np.ndarray,
    variables: Sequence[str],
    *,
    rows: np.ndarray | None = None,
) -> Scaler:
    """Fit a scaler to the training events ``x`` (or its ``rows``).

    The statistics are unweighted: event weights can be negative, which can
    make a weighted spread meaningless, and the scaler only has to bring the
    inputs to a range the network trains well on, not describe the physics.

    * standard: mean and standard deviation (zero mean, unit variance).
    * minmax: minimum and range (values of the training events in [0, 1]).
    * robust: median and interquartile range (insensitive to long tails).
    * none: offset 0 and scale 1 (inputs used as they are).

    A column that is constant on the training events gets scale 1 instead of
    a division by zero, and a warning, since it cannot help the classifier.

    Args:
        kind: one of ``SCALERS``.
        x: events times variables.
        variables: variable names, one per column.
        rows: the rows of ``x`` that are training events; all when None.
            They are read block by block, so no copy of them is made.

    Returns:
        The fitted scaler.

    Raises:
        ValueError: if ``kind`` is unknown or the shapes do not fit.
    """
    x = np.asarray(x)
    if kind not in SCALERS:
        msg = f"scaler must be one of {SCALERS}. Got {kind!r} instead."
        raise ValueError(msg)
    events = int(x.shape[0] if rows is None else np.size(rows))
    if x.ndim != 2 or x.shape[1] != len(variables) or events == 0:
        msg = (
            f"expected a non-empty array with {len(variables)} columns. "
            f"Received shape {x.shape} and {events} training rows."
        )
        raise ValueError(msg)

    # Statistics in float64, since float32 sums over millions of events lose
    # digits, but block by block or column by column: a float64 copy of all
    # training inputs would double the memory a fold needs.
    if kind == "standard":
        sums = np.zeros(x.shape[1])
        for block in _row_blocks(x, rows):
            sums += block.sum(axis=0, dtype=np.float64)
        offsets = sums / events
        squares = np.zeros(x.shape[1])
        for block in _row_blocks(x, rows):
            centred = block.astype(np.float64) - offsets
            squares += np.einsum("ij,ij->j", centred, centred)
        scales = np.sqrt(squares / events)
    elif kind == "minmax":
        lowest = np.full(x.shape[1], np.inf)
        highest = np.full(x.shape[1], -np.inf)
        for block in _row_blocks(x, rows):
            lowest = np.minimum(lowest, block.min(axis=0))
            highest = np.maximum(highest, block.max(axis=0))
        offsets, scales = lowest, highest - lowest
    elif kind == "robust":
        quartiles = np.array(
            [
                np.percentile(_column(x, rows, column), [25.0, 50.0, 75.0])
                for column in range(x.shape[1])
            ]
        )
        lower, offsets, upper = quartiles.T
        scales = upper - lower
    else:
        offsets = np.zeros(x.shape[1])
        scales = np.ones(x.shape[1])

    flat = ~(scales > 0)
    if flat.any():
        names = [name for name, is_flat in zip(variables, flat, strict=True) if is_flat]
        log.warning(
            "input variable(s) %s do not vary among the training events "
            "(%s scaler); they cannot help the classifier",
            ", ".join(names),
            kind,
        )
        scales = np.where(flat, 1.0, scales)

    return Scaler(
        kind=kind,
        variables=tuple(variables),
        offsets=tuple(float(value) for value in offsets),
        scales=tuple(float(value) for value in scales),
    )


def training_weights(
    weights: np.ndarray,
    labels: np.ndarray,
    negative_weights_policy: str,
    balance_classes: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Turn true event weights into the weights the network trains with.

    Three steps, in order:

    1. Negative weights (e.g. from NLO generators) follow the policy:
       ``keep`` them, set them to ``zero``, take their ``abs`` value, or
       ``drop`` the events.
    2. With ``balance_classes``, signal weights are scaled so that their sum
       equals the background's, so neither class dominates the loss.
    3. All weights are scaled so that their mean over the kept events is 1.

    Args:
        weights: true event weights of the training events.
        labels: 1 for signal, 0 for background, one per event.
        negative_weights_policy: one of ``NEGATIVE_WEIGHT_POLICIES``.
        balance_classes: whether to equalise the class sums.

    Returns:
        ``(weights, keep_mask)``: float64 training weights, one per input
        event (0 for dropped events), and a mask that is False for events
        the ``drop`` policy removes and True otherwise.

    Raises:
        ValueError: if the policy is unknown or the lengths differ.
        InvalidData: if the weights of a class sum to zero or less after the
            policy, so that class cannot be trained on.
    """
    weights = np.asarray(weights, dtype=np.float64)
    labels = np.asarray(labels)
    if negative_weights_policy not in NEGATIVE_WEIGHT_POLICIES:
        msg = (
            f"negative_weights_policy must be one of {NEGATIVE_WEIGHT_POLICIES}. "
            f"Got {negative_weights_policy!r} instead."
        )
        raise ValueError(msg)
    if weights.shape != labels.shape:
        msg = (
            f"weights has shape {weights.shape}, labels {labels.shape}; "
            "they must match."
        )
        raise ValueError(msg)

    trained = weights.copy()
    keep = np.ones(weights.shape[0], dtype=bool)
    negative = weights < 0
    if negative_weights_policy == "zero":
        trained[negative] = 0.0
    elif negative_weights_policy == "abs":
        trained[negative] = -trained[negative]
    elif negative_weights_policy == "drop":
        keep = ~negative
        trained[negative] = 0.0

    is_signal = labels == 1
    sums = {}
    for name, in_class in (("signal", is_signal), ("background", ~is_signal)):
        total = float(trained[in_class & keep].sum())
        if not total > 0:
            raise InvalidData(
                Problem(
                    message=(
                        f"the {name} training events' weights sum to {total:.6g} "
                        f"({int((in_class & keep).sum())} events, "
                        f"{int((in_class & negative).sum())} with negative weight, "
                        f"negative_weights={negative_weights_policy!r}); training "
                        "needs a positive sum per class"
                    ),
                    path="preprocess.negative_weights",
                    hint="use negative_weights 'abs' or 'zero', more events, or "
                    "check the weight column and selection",
                )
            )
        sums[name] = total

    if balance_classes:
        trained[is_signal] *= sums["background"] / sums["signal"]

    # Keras averages weight * loss over the events of a batch, so the size of
    # the gradient, and in effect the learning rate, scale with the weights.
    # Cross-section weights are often 1e-6 or 1e3; a mean of one makes a
    # learning rate mean the same for every sample normalisation.
    kept = int(keep.sum())
    trained *= kept / float(trained[keep].sum())
    return trained, keep


def _row_blocks(x: np.ndarray, rows: np.ndarray | None) -> Iterator[np.ndarray]:
    # Consecutive blocks of the chosen rows, each a small copy at most.
    events = x.shape[0] if rows is None else rows.size
    for start in range(0, events, _BLOCK_ROWS):
        if rows is None:
            yield x[start : start + _BLOCK_ROWS]
        else:
            yield x[rows[start : start + _BLOCK_ROWS]]


def _column(x: np.ndarray, rows: np.ndarray | None, column: int) -> np.ndarray:
    # One column of the chosen rows in float64: a small copy next to x.
    values = x[:, column] if rows is None else x[rows, column]
    return values.astype(np.float64)
