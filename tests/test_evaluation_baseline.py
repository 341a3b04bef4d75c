"""The decision-tree baseline: same folds and weights as the network."""

from __future__ import annotations

import numpy as np
import pytest

from tw_pipeline.data.dataset import Dataset
from tw_pipeline.evaluation.baseline import train_baseline
from tw_pipeline.study.models import Study


def make_study(**evaluation) -> Study:
    return Study.model_validate(
        {
            "study": "s",
            "variables": ["a", "b"],
            "data": {
                "samples": {
                    "tW": {"class": "signal", "files": ["t.h5"]},
                    "tt": {"class": "background", "files": ["b.h5"]},
                }
            },
            "evaluation": evaluation,
        }
    )


def make_dataset(rng, n: int, shift: float) -> Dataset:
    labels = (rng.random(n) < 0.4).astype(np.int8)
    features = rng.normal(size=(n, 2)).astype(np.float32)
    features[:, 0] += shift * labels
    weights = rng.lognormal(0, 0.2, n)
    return Dataset(
        features,
        labels,
        weights,
        labels.astype(np.int16),
        None,
        ("a", "b"),
        ("tW", "tt"),
    )


def test_separable_classes_give_a_test_auc_of_one():
    dataset = make_dataset(np.random.default_rng(1), 1200, shift=20.0)
    folds = np.arange(1200) % 2

    result = train_baseline(dataset, 0, folds, make_study())

    assert result.metrics["test"]["auc"] == pytest.approx(1.0)
    assert result.test.scores.size == int((folds == 0).sum())
    # Scored with the true weights of the test fold's events, in their order.
    np.testing.assert_array_equal(result.test.weights, dataset.weights[folds == 0])


def test_identical_classes_give_a_test_auc_near_one_half():
    dataset = make_dataset(np.random.default_rng(2), 4000, shift=0.0)
    folds = np.arange(4000) % 2

    result = train_baseline(dataset, 1, folds, make_study())

    assert result.metrics["test"]["auc"] == pytest.approx(0.5, abs=0.05)
    # The trees memorise the training events, the test fold shows it.
    assert result.metrics["train"]["auc"] > result.metrics["test"]["auc"]


def test_the_baseline_can_be_switched_off_in_the_study():
    assert make_study().evaluation.bdt is True
    assert make_study(bdt=False).evaluation.bdt is False


def test_negative_weights_on_a_large_sample_train_as_zero():
    # Above 200,000 training events (after its own 10 % validation split)
    # scikit-learn samples events by weight to find its bin edges, which
    # negative weights (NLO generators) would break.
    rng = np.random.default_rng(4)
    n = 460_000
    dataset = make_dataset(rng, n, shift=1.0)
    weights = dataset.weights.copy()
    weights[rng.random(n) < 0.05] *= -1.0
    dataset = Dataset(
        dataset.features, dataset.labels, weights, dataset.sample_index, None,
        dataset.variables, dataset.sample_names,
    )
    folds = np.arange(n) % 2

    result = train_baseline(dataset, 0, folds, make_study())

    assert result.metrics["negative_weights_zeroed"] == int((weights[folds == 1] < 0).sum())
    assert result.metrics["test"]["auc"] > 0.7
    # Evaluation still uses the true, negative weights.
    np.testing.assert_array_equal(result.test.weights, weights[folds == 0])


def test_bdt_events_bounds_what_the_trees_train_on_and_is_reproducible():
    dataset = make_dataset(np.random.default_rng(6), 6000, shift=1.0)
    folds = np.arange(6000) % 3
    study = make_study(bdt_events=1500)

    first = train_baseline(dataset, 0, folds, study)
    again = train_baseline(dataset, 0, folds, study)
    everything = train_baseline(dataset, 0, folds, make_study(bdt_events=None))

    assert first.metrics["trained_events"] == 1500
    assert first.train.scores.size == 1500
    assert everything.metrics["trained_events"] == 4000
    # The whole test fold is scored either way.
    assert first.test.scores.size == everything.test.scores.size == 2000
    assert first.metrics["test"]["auc"] == again.metrics["test"]["auc"]
    assert first.metrics["test"]["auc"] == pytest.approx(
        everything.metrics["test"]["auc"], abs=0.03
    )
