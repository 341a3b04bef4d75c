"""Ranking of inputs: separation before training, permutation importance after."""

from __future__ import annotations

import numpy as np
import pytest

from tw_pipeline.evaluation.metrics import weighted_auc
from tw_pipeline.evaluation.ranking import (
    combine_importances,
    permutation_importance,
    separation_ranking,
)


def events(rng, n=3000):
    labels = (rng.random(n) < 0.5).astype(np.int8)
    x = rng.normal(size=(n, 3))
    x[:, 0] += 1.5 * labels  # strongly separating
    x[:, 1] += 0.4 * labels  # weakly separating
    return x, labels, rng.lognormal(0, 0.3, n)


def test_separation_ranking_orders_by_how_different_the_classes_are():
    x, labels, weights = events(np.random.default_rng(1))

    ranking = separation_ranking(x, labels, weights, ["strong", "weak", "none"])

    assert [entry["variable"] for entry in ranking] == ["strong", "weak", "none"]
    assert ranking[2]["separation"] < 0.02


def test_a_variable_the_scorer_ignores_has_no_importance():
    x, labels, weights = events(np.random.default_rng(2))

    def scorer(features):  # uses only the first two variables
        return 1 / (1 + np.exp(-(features[:, 0] + 0.3 * features[:, 1])))

    reference, drops = permutation_importance(
        scorer, x, labels, weights, repeats=3, seed=1
    )

    assert reference == pytest.approx(weighted_auc(labels, scorer(x), weights))
    assert drops[2] == 0.0
    assert drops[0] > drops[1] > 0
    # Shuffling the main variable leaves about a guess plus the weak one.
    assert reference - drops[0] < 0.6


def test_permutation_leaves_the_input_untouched():
    x, labels, weights = events(np.random.default_rng(3), n=200)
    before = x.copy()

    permutation_importance(lambda f: f[:, 0], x, labels, weights, repeats=2, seed=0)

    np.testing.assert_array_equal(x, before)


def test_importances_combine_to_mean_and_sample_spread():
    ranking = combine_importances([[0.1, 0.0], [0.3, 0.02]], ["a", "b"])

    assert ranking[0] == {
        "variable": "a",
        "mean": pytest.approx(0.2),
        "std": pytest.approx(np.std([0.1, 0.3], ddof=1)),
    }
    assert ranking[1]["variable"] == "b"
