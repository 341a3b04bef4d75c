"""Fold assignment and validation hold-out: the invariants k-fold relies on."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tw_pipeline.errors import InvalidData
from tw_pipeline.training.folds import assign_folds, split_validation


def make_labels(signal: int, background: int, seed: int = 0) -> np.ndarray:
    labels = np.r_[np.ones(signal, dtype=np.int8), np.zeros(background, dtype=np.int8)]
    return np.random.default_rng(seed).permutation(labels)


@pytest.mark.parametrize(
    ("signal", "background", "k"),
    [(50, 50, 2), (101, 202, 3), (7, 500, 5), (33, 34, 10), (1000, 17, 4)],
)
def test_folds_cover_every_event_once_with_balanced_sizes(signal, background, k):
    labels = make_labels(signal, background)
    folds = assign_folds(labels, k, seed=3)

    assert folds.shape == labels.shape
    assert set(np.unique(folds)) == set(range(k))
    test_sets = [np.flatnonzero(folds == j) for j in range(k)]
    assert np.array_equal(np.sort(np.concatenate(test_sets)), np.arange(labels.size))

    totals = np.bincount(folds, minlength=k)
    assert totals.max() - totals.min() <= 1
    for label in (0, 1):
        per_class = np.bincount(folds[labels == label], minlength=k)
        assert per_class.max() - per_class.min() <= 1


def test_training_and_test_rows_of_a_fold_never_overlap():
    labels = make_labels(60, 90)
    folds = assign_folds(labels, 3, seed=1)

    for j in range(3):
        test = set(np.flatnonzero(folds == j))
        train = set(np.flatnonzero(folds != j))
        assert not test & train
        assert len(test | train) == labels.size


def test_folds_keep_the_class_ratio():
    labels = make_labels(300, 900)
    folds = assign_folds(labels, 4, seed=5)

    for j in range(4):
        assert labels[folds == j].mean() == pytest.approx(0.25, abs=0.01)


def test_same_seed_gives_same_folds_and_another_seed_other_folds():
    labels = make_labels(100, 150)

    first = assign_folds(labels, 3, seed=11)
    again = assign_folds(labels, 3, seed=11)
    other = assign_folds(labels, 3, seed=12)

    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_event_number_decides_the_fold_whatever_the_seed():
    labels = make_labels(40, 60)
    event_number = np.random.default_rng(2).integers(0, 10**9, labels.size)

    folds = assign_folds(labels, 3, seed=1, event_number=event_number)

    assert np.array_equal(folds, event_number % 3)
    assert np.array_equal(
        folds, assign_folds(labels, 3, seed=99, event_number=event_number)
    )


def test_negative_event_numbers_land_in_a_valid_fold():
    labels = np.array([1, 1, 0, 0, 1, 0], dtype=np.int8)
    event_number = np.array([-1, -2, -3, 4, 5, 6])

    folds = assign_folds(labels, 2, seed=0, event_number=event_number)

    assert np.array_equal(folds, [1, 0, 1, 0, 1, 0])


def test_event_numbers_that_miss_a_fold_are_refused_with_a_hint():
    labels = make_labels(10, 10)
    even = 2 * np.arange(labels.size)

    with pytest.raises(InvalidData, match=r"fold\(s\) \[1\] of k=2 get no") as caught:
        assign_folds(labels, 2, seed=0, event_number=even)

    assert "data.event_number" in str(caught.value)
    assert "event numbers do not spread" in str(caught.value)


def test_too_few_events_of_a_class_for_k_folds_is_refused():
    labels = make_labels(2, 50)

    with pytest.raises(InvalidData, match="no signal event") as caught:
        assign_folds(labels, 3, seed=0)

    assert "folds.k" in str(caught.value)


def test_k_below_two_is_a_programming_error():
    with pytest.raises(ValueError, match="k must be at least 2"):
        assign_folds(make_labels(5, 5), 1, seed=0)


def test_validation_split_is_disjoint_complete_and_stratified():
    rows = np.arange(1000, 1400)
    labels = np.r_[np.ones(100, dtype=np.int8), np.zeros(300, dtype=np.int8)]

    train, val = split_validation(rows, labels, 0.25, seed=4)

    assert not set(train) & set(val)
    assert np.array_equal(np.sort(np.r_[train, val]), rows)
    is_signal = dict(zip(rows, labels, strict=True))
    assert sum(is_signal[r] for r in val) == 25
    assert len(val) == 100


def test_validation_split_is_repeatable_with_its_seed():
    rows = np.arange(200)
    labels = make_labels(80, 120)

    first = split_validation(rows, labels, 0.2, seed=8)
    again = split_validation(rows, labels, 0.2, seed=8)
    other = split_validation(rows, labels, 0.2, seed=9)

    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[1], other[1])


def test_validation_split_keeps_each_class_in_both_parts():
    rows = np.arange(12)
    labels = np.r_[np.ones(2, dtype=np.int8), np.zeros(10, dtype=np.int8)]

    train, val = split_validation(rows, labels, 0.1, seed=0)

    assert labels[val].sum() == 1
    assert labels[train].sum() == 1


def test_validation_split_refuses_a_class_with_a_single_event():
    rows = np.arange(10)
    labels = np.r_[np.ones(1, dtype=np.int8), np.zeros(9, dtype=np.int8)]

    with pytest.raises(InvalidData, match="1 signal event"):
        split_validation(rows, labels, 0.2, seed=0)


def test_fold_and_preprocessing_modules_do_not_import_keras():
    code = (
        "import sys\n"
        "import tw_pipeline.training.folds, tw_pipeline.training.preprocess\n"
        "import tw_pipeline.evaluation.metrics\n"
        "heavy = {'keras', 'tensorflow'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
