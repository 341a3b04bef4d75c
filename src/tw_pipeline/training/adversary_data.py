"""The events the adversary sees: a nominal sample against its variation,
or the events whose variable the score is to be decorrelated from.

The adversary of ``adversary.sample`` tells the events of the nominal sample
it varies (``varies``) from those of the systematic sample. Both sides are
folded like the classifier's events: the nominal events keep the rows the
classifier's fold uses (training, validation and test part), and the
systematic events go to fold ``eventNumber % k`` (or a seeded shuffle
without event numbers), so a model is never judged on systematic events it
was trained against.

Weights follow the study's negative-weight policy and are then balanced and
normalised: the nominal and the systematic side sum to the same total and the
mean weight is 1. An adversary that learns nothing then has a loss of
ln 2 = 0.693, the loss of a balanced classifier that learns nothing, so
lambda weighs two losses of the same scale in every study.

With ``adversary.variable`` the adversary sees the classifier's own training
and validation events of the class ``adversary.events`` (background by
default), with their training weights normalised to mean 1, and tells in
which of ``adversary.bins`` quantile bins of the variable (equal shares of
the weighted training events) an event lies: an adversary that learns
nothing has a loss of ln(bins), in every study.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import numpy as np

from tw_pipeline.data.dataset import Dataset
from tw_pipeline.errors import InvalidData, Problem
from tw_pipeline.evaluation.quantiles import weighted_quantiles
from tw_pipeline.study.models import Study
from tw_pipeline.training.fold_inputs import FoldInputs
from tw_pipeline.training.preprocess import training_weights

__all__ = ["AdversaryEvents", "adversary_events", "systematic_folds", "varied_rows"]


class AdversaryEvents(NamedTuple):
    """Scaled inputs, target (1 for the systematic sample) and weights."""

    x: np.ndarray
    target: np.ndarray
    weights: np.ndarray

    @property
    def events(self) -> int:
        return int(self.x.shape[0])


def systematic_folds(systematic: Dataset, k: int, seed: int) -> np.ndarray:
    """Return the fold (0 to k-1) of every event of the systematic samples.

    With event numbers the rule is the classifier's, ``eventNumber % k``;
    without, the events are shuffled with ``seed`` and dealt to the folds in
    turn.
    """
    if systematic.event_number is not None:
        return np.mod(systematic.event_number.astype(np.int64), k)
    order = np.random.default_rng([seed, 2]).permutation(len(systematic))
    folds = np.empty(len(systematic), dtype=np.int64)
    folds[order] = np.arange(len(systematic)) % k
    return folds


def varied_rows(dataset: Dataset, study: Study) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the nominal rows (in ``dataset``) and the systematic rows.

    Returns:
        ``(nominal, systematic)``: boolean masks over ``dataset`` and over
        ``dataset.systematic`` selecting the two sides the adversary compares.

    Raises:
        InvalidData: when the study names no adversary or the data hold no
            systematic events.
    """
    if study.adversary is None or dataset.systematic is None:
        raise InvalidData(
            Problem(
                message="no systematic sample was loaded for the adversary",
                path="adversary.sample",
                hint="add a sample with class: systematic to data.samples",
            )
        )
    name = study.adversary.sample
    varies = str(study.data.samples[name].varies)
    systematic = dataset.systematic
    nominal_mask = dataset.sample_index == dataset.sample_names.index(varies)
    varied_mask = systematic.sample_index == systematic.sample_names.index(name)
    return nominal_mask, varied_mask


def adversary_events(
    dataset: Dataset, fold: int, inputs: FoldInputs, study: Study
) -> tuple[AdversaryEvents, AdversaryEvents]:
    """The adversary's training and validation events of test fold ``fold``.

    Args:
        dataset: all events of the study, with the systematic samples.
        fold: index of the test fold.
        inputs: the classifier's prepared fold (rows and scaler).
        study: the point's settings.

    Returns:
        ``(fit, validation)`` events, scaled with the classifier's scaler.

    Raises:
        InvalidData: if either side has no event in the training or the
            validation part, or its weights sum to zero or less.
    """
    assert study.adversary is not None
    if study.adversary.variable is not None:
        return _variable_events(dataset, fold, inputs, study)
    systematic = dataset.systematic
    nominal_mask, varied_mask = varied_rows(dataset, study)
    assert systematic is not None

    # Systematic events of the training folds, split as the classifier's are.
    folds = systematic_folds(systematic, study.folds.k, study.training.seed)
    train_rows = np.flatnonzero(varied_mask & (folds != fold))
    fit_rows, val_rows = _split(
        train_rows, study.training.validation_fraction, study.training.seed + fold
    )

    parts = []
    for nominal_rows, rows, part in (
        (inputs.fit_rows, fit_rows, "training"),
        (inputs.val_rows, val_rows, "validation"),
    ):
        nominal_rows = nominal_rows[nominal_mask[nominal_rows]]
        parts.append(_events(dataset, nominal_rows, rows, inputs, study, fold, part))
    return parts[0], parts[1]


def _variable_events(
    dataset: Dataset, fold: int, inputs: FoldInputs, study: Study
) -> tuple[AdversaryEvents, AdversaryEvents]:
    """The classifier's own events of the chosen class; the target is the
    quantile bin of the variable each event lies in."""
    assert study.adversary is not None and dataset.decorrelated is not None
    column, chosen = study.adversary.variable, study.adversary.events
    labels = {"background": 0, "signal": 1}

    parts = []
    for rows, weights, part in (
        (inputs.fit_rows, inputs.fit_weights, "training"),
        (inputs.val_rows, inputs.val_weights, "validation"),
    ):
        if chosen != "all":
            mask = dataset.labels[rows] == labels[chosen]
            rows, weights = rows[mask], weights[mask]
        if rows.size < 2 or not weights.sum() > 0:
            raise InvalidData(
                Problem(
                    message=f"the {part} part of fold {fold} holds {rows.size} "
                    f"{chosen} event(s), training weights summing to "
                    f"{weights.sum():.3g}; the adversary on {column!r} needs at "
                    "least two events and a positive sum",
                    path="adversary.events",
                    hint="use more events or fewer folds (folds.k)",
                )
            )
        parts.append((rows, weights.astype(np.float64)))

    # Quantile bins of equal weight on the training part, so an adversary
    # that learns nothing has a loss of ln(bins), whatever the variable.
    (fit_rows, fit_weights), _ = parts
    edges = weighted_quantiles(
        dataset.decorrelated[fit_rows], fit_weights, study.adversary.bins
    )
    if np.unique(edges).size < edges.size:
        raise InvalidData(
            Problem(
                message=f"column {column!r} has too few distinct values in fold "
                f"{fold} for {study.adversary.bins} bins of equal weight",
                path="adversary.bins",
                hint="use fewer bins, or a continuous variable such as a mass",
            )
        )

    events = []
    for rows, weights in parts:
        x = inputs.scaler.transform(dataset.features[rows], in_place=True)
        # Inner edges only: values beyond the training range join the end bins.
        target = np.searchsorted(edges[1:-1], dataset.decorrelated[rows], side="right")
        events.append(
            AdversaryEvents(
                x=x.astype(np.float32),
                target=target.astype(np.float32).reshape(-1, 1),
                weights=(weights * rows.size / weights.sum()).astype(np.float32),
            )
        )
    return events[0], events[1]


def _split(
    rows: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    # The classifier's validation share, drawn from a generator of its own;
    # an empty side is reported by _events with the fold and the sample.
    shuffled = np.random.default_rng([seed, 3]).permutation(rows)
    held_out = (
        min(max(1, round(fraction * rows.size)), rows.size - 1) if rows.size > 1 else 0
    )
    return np.sort(shuffled[held_out:]), np.sort(shuffled[:held_out])


def _events(
    dataset: Dataset,
    nominal_rows: np.ndarray,
    varied_rows_: np.ndarray,
    inputs: FoldInputs,
    study: Study,
    fold: int,
    part: str,
) -> AdversaryEvents:
    assert study.adversary is not None and dataset.systematic is not None
    name = study.adversary.sample
    if nominal_rows.size == 0 or varied_rows_.size == 0:
        side = name if varied_rows_.size == 0 else study.data.samples[name].varies
        raise InvalidData(
            Problem(
                message=f"the {part} part of fold {fold} holds no event of "
                f"sample {side!r}; the adversary cannot be trained",
                path="adversary.sample",
                hint="use more events, fewer folds (folds.k) or a larger "
                "training.validation_fraction",
            )
        )
    features = np.concatenate(
        [dataset.features[nominal_rows], dataset.systematic.features[varied_rows_]]
    )
    x = inputs.scaler.transform(features, in_place=True)
    target = np.r_[np.zeros(nominal_rows.size), np.ones(varied_rows_.size)]
    true = np.r_[
        dataset.weights[nominal_rows], dataset.systematic.weights[varied_rows_]
    ]
    # Balanced and normalised to mean 1: the systematic side plays "signal".
    try:
        weights, keep = training_weights(
            true, target, study.preprocess.negative_weights, balance_classes=True
        )
    except InvalidData as err:
        varies = study.data.samples[name].varies
        raise InvalidData(
            [
                replace(
                    problem,
                    message=f"adversary, fold {fold}, {varies} (as background) "
                    f"against {name} (as signal): {problem.message}",
                )
                for problem in err.problems
            ]
        ) from None
    return AdversaryEvents(
        x=x[keep].astype(np.float32),
        target=target[keep].astype(np.float32).reshape(-1, 1),
        weights=weights[keep].astype(np.float32),
    )
