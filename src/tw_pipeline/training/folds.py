"""Assign events to k folds and hold out a validation set.

Each fold is the test set of one model, trained on all other folds, so every
event is scored by a model that never saw it. Folds come either from the
event number (``eventNumber % k``, the same rule an analysis uses when it
applies the models later) or from a seeded shuffle stratified by class.
"""

from __future__ import annotations

import numpy as np

from tw_pipeline.errors import InvalidData, Problem

__all__ = ["assign_folds", "split_validation"]

_CLASS_NAMES = {0: "background", 1: "signal"}


def assign_folds(
    labels: np.ndarray,
    k: int,
    seed: int,
    event_number: np.ndarray | None = None,
) -> np.ndarray:
    """Return the fold index (0 to k-1) of every event.

    With event numbers, event i goes to fold ``event_number[i] % k``: the
    split depends on nothing else, so it is the same in every run and when
    the models are applied to new files. Without them, the events of each
    class are shuffled with ``seed`` and dealt to the folds in turn, so each
    fold holds the same share of signal and background and fold sizes differ
    by at most one event (per class and in total).

    Args:
        labels: 1 for signal and 0 for background, one per event.
        k: number of folds, at least 2.
        seed: seed of the shuffle; ignored when event numbers are given.
        event_number: integer event numbers, one per event, or None.

    Returns:
        Fold index of every event, int64, same length as ``labels``.

    Raises:
        ValueError: if ``k`` is below 2 or the arrays differ in length.
        InvalidData: if a fold would hold no signal or no background event.
    """
    labels = np.asarray(labels)
    if k < 2:
        msg = f"k must be at least 2. Got {k!r} instead."
        raise ValueError(msg)

    if event_number is not None:
        event_number = np.asarray(event_number)
        if event_number.shape != labels.shape:
            msg = (
                f"event_number has shape {event_number.shape}, labels "
                f"{labels.shape}; they must match."
            )
            raise ValueError(msg)
        # np.mod follows the sign of the divisor, so negative event numbers
        # still land in 0..k-1.
        folds = np.mod(event_number.astype(np.int64), k)
    else:
        folds = _stratified_folds(labels, k, seed)

    _check_every_fold_has_both_classes(
        folds, labels, k, by_event_number=event_number is not None
    )
    return folds


def split_validation(
    rows: np.ndarray,
    labels: np.ndarray,
    fraction: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Hold out a stratified share of the training rows for validation.

    The validation rows give the validation loss that early stopping and the
    best-model choice watch; they come from the training folds only, never
    from the test fold. Each class contributes ``fraction`` of its rows
    (rounded, at least one), so the class mix of both parts matches.

    Args:
        rows: indices of the training events in the dataset.
        labels: the label of each entry of ``rows`` (same length as ``rows``).
        fraction: share of the rows to hold out, between 0 and 1.
        seed: seed of the random choice.

    Returns:
        ``(train_rows, val_rows)``: two disjoint, sorted subsets of ``rows``
        that together hold all of them.

    Raises:
        ValueError: if ``fraction`` is not between 0 and 1 or the lengths differ.
        InvalidData: if a class has fewer than two training events, too few to
            have at least one in each part.
    """
    rows = np.asarray(rows)
    labels = np.asarray(labels)
    if not 0.0 < fraction < 1.0:
        msg = f"fraction must be between 0 and 1. Got {fraction!r} instead."
        raise ValueError(msg)
    if rows.shape != labels.shape:
        msg = f"rows has shape {rows.shape}, labels {labels.shape}; they must match."
        raise ValueError(msg)

    rng = np.random.default_rng(seed)
    held_out = []
    for label in (0, 1):
        positions = np.flatnonzero(labels == label)
        if positions.size < 2:
            raise InvalidData(
                Problem(
                    message=(
                        f"the training folds hold {positions.size} "
                        f"{_CLASS_NAMES[label]} event(s); at least 2 are needed "
                        "to keep one for training and one for validation"
                    ),
                    path="training.validation_fraction",
                    hint="use more events, fewer folds (folds.k) or a looser selection",
                )
            )
        count = int(round(fraction * positions.size))
        count = min(max(count, 1), positions.size - 1)
        held_out.append(rng.permutation(positions)[:count])

    is_validation = np.zeros(rows.shape[0], dtype=bool)
    is_validation[np.concatenate(held_out)] = True
    return np.sort(rows[~is_validation]), np.sort(rows[is_validation])


def _stratified_folds(labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    folds = np.empty(labels.shape[0], dtype=np.int64)

    # Deal each class round-robin after a shuffle. The next class starts
    # dealing where the previous one stopped, so the folds that got one
    # extra event of the first class are the last to get one of the next:
    # totals then also differ by at most one.
    start = 0
    for label in np.unique(labels):
        positions = rng.permutation(np.flatnonzero(labels == label))
        folds[positions] = (start + np.arange(positions.size)) % k
        start = (start + positions.size) % k
    return folds


def _check_every_fold_has_both_classes(
    folds: np.ndarray, labels: np.ndarray, k: int, *, by_event_number: bool
) -> None:
    problems = []
    for label in (0, 1):
        counts = np.bincount(folds[labels == label], minlength=k)
        empty = np.flatnonzero(counts == 0)
        if empty.size == 0:
            continue
        total = int(counts.sum())
        if by_event_number:
            hint = (
                "the event numbers do not spread over the folds (are they all "
                "even, or all equal?); check data.event_number or remove it to "
                "use seeded folds"
            )
        else:
            hint = "use fewer folds (folds.k) or more events"
        problems.append(
            Problem(
                message=(
                    f"fold(s) {empty.tolist()} of k={k} get no {_CLASS_NAMES[label]} "
                    f"event ({total} in total); every fold needs signal and "
                    "background to train and test a model"
                ),
                path="data.event_number" if by_event_number else "folds.k",
                hint=hint,
            )
        )
    if problems:
        raise InvalidData(problems)
