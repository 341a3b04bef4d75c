"""Fold preparation: shared by sweep points, never touching the test fold."""

from __future__ import annotations

import numpy as np
import pytest

from tw_pipeline.training.fold_inputs import FoldInputCache, prepare_fold
from tw_pipeline.training.folds import assign_folds

from test_training_train import toy_dataset, toy_study

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def _train_rows(dataset, study, fold):
    folds = assign_folds(dataset.labels, study.folds.k, study.training.seed)
    return folds, np.flatnonzero(folds != fold)


def test_prepared_rows_come_from_the_training_folds_and_do_not_overlap():
    dataset = toy_dataset(600)
    study = toy_study(preprocess={"negative_weights": "keep"})
    folds, train_rows = _train_rows(dataset, study, fold=2)

    inputs = prepare_fold(dataset, 2, train_rows, study)

    fit, val = set(inputs.fit_rows.tolist()), set(inputs.val_rows.tolist())
    assert not fit & val
    assert fit | val == set(train_rows.tolist())
    assert not (folds[inputs.fit_rows] == 2).any()
    assert not (folds[inputs.val_rows] == 2).any()

    # Standard scaling fitted on the rows trained on: they come out centred.
    scaled = inputs.x(dataset, "fit")
    np.testing.assert_allclose(scaled.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(scaled.std(axis=0), 1.0, atol=1e-4)
    assert inputs.fit_weights.dtype == np.float32
    assert inputs.y(dataset, "val").shape == (len(val), 1)


def test_dropped_negative_weights_leave_the_rows():
    dataset = toy_dataset(600)
    study = toy_study(preprocess={"negative_weights": "drop"})
    _, train_rows = _train_rows(dataset, study, fold=0)

    inputs = prepare_fold(dataset, 0, train_rows, study)

    assert (dataset.weights[inputs.fit_rows] > 0).all()
    assert (dataset.weights[inputs.val_rows] > 0).all()
    assert len(inputs.fit_rows) + len(inputs.val_rows) == int(
        (dataset.weights[train_rows] > 0).sum()
    )


def test_points_differing_in_the_network_share_a_preparation():
    dataset = toy_dataset(600)
    first = toy_study(network={"hidden_layers": 2, "nodes": 8})
    second = toy_study(network={"hidden_layers": 3, "nodes": 16})
    _, train_rows = _train_rows(dataset, first, fold=1)
    cache = FoldInputCache()

    prepared = cache.get(dataset, 1, train_rows, first)
    shared = cache.get(dataset, 1, train_rows, second)

    assert shared is prepared and cache.hits == 1


@pytest.mark.parametrize(
    "change",
    [
        {"preprocess": {"scaler": "minmax"}},
        {"preprocess": {"negative_weights": "abs"}},
        {"training": {"seed": 6, "epochs": 3, "batch_size": 32, "early_stopping": None}},
        {"training": {"validation_fraction": 0.3, "seed": 5}},
    ],
)
def test_a_change_of_what_preparation_depends_on_prepares_again(change):
    dataset = toy_dataset(600)
    first = toy_study()
    second = toy_study(**change)
    _, train_rows = _train_rows(dataset, first, fold=1)
    cache = FoldInputCache()

    prepared = cache.get(dataset, 1, train_rows, first)
    other = cache.get(dataset, 1, train_rows, second)

    assert other is not prepared and cache.hits == 0
