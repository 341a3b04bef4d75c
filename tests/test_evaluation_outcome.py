"""Scored events made from dataset rows read their truth from the dataset."""

from __future__ import annotations

import numpy as np

from tw_pipeline.data.dataset import Dataset
from tw_pipeline.evaluation.outcome import Scored, combine_scored


def _dataset(n: int) -> Dataset:
    rng = np.random.default_rng(5)
    return Dataset(
        features=rng.normal(size=(n, 2)).astype(np.float32),
        labels=(np.arange(n) % 2).astype(np.int8),
        weights=rng.uniform(0.5, 1.5, n),
        sample_index=(np.arange(n) % 3).astype(np.int16),
        event_number=None,
        variables=("a", "b"),
        sample_names=("tW", "ttbar", "other"),
    )


def test_scored_rows_give_the_truth_of_those_events_in_order() -> None:
    dataset = _dataset(50)
    rows = np.array([7, 3, 40, 11])

    scored = Scored.of_rows(np.linspace(0, 1, 4, dtype=np.float32), dataset, rows)

    np.testing.assert_array_equal(scored.labels, dataset.labels[rows])
    np.testing.assert_array_equal(scored.weights, dataset.weights[rows])
    np.testing.assert_array_equal(scored.sample_index, dataset.sample_index[rows])
    assert len(scored) == 4


def test_combined_folds_keep_every_event_with_its_own_truth() -> None:
    dataset = _dataset(30)
    first = Scored.of_rows(np.zeros(2, np.float32), dataset, np.array([1, 2]))
    second = Scored.of_rows(np.ones(3, np.float32), dataset, np.array([29, 0, 5]))
    plain = Scored(np.full(1, 0.5), np.array([1]), np.array([2.0]), np.array([0]))

    combined = combine_scored([first, second])
    mixed = combine_scored([first, plain])

    np.testing.assert_array_equal(combined.scores, [0, 0, 1, 1, 1])
    np.testing.assert_array_equal(combined.weights, dataset.weights[[1, 2, 29, 0, 5]])
    np.testing.assert_array_equal(mixed.labels, [1, 0, 1])
    np.testing.assert_array_equal(mixed.weights, [*dataset.weights[[1, 2]], 2.0])
