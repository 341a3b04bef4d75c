"""The KS overtraining check against SciPy and on cases with a known answer."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ks_2samp

from tw_pipeline.evaluation.outcome import Scored
from tw_pipeline.evaluation.overtraining import (
    effective_events,
    overtraining_check,
    weighted_ks_test,
)


@pytest.mark.parametrize("sizes", [(50, 80), (1000, 700), (3000, 3000)])
def test_unweighted_test_equals_scipy_asymptotic(sizes):
    rng = np.random.default_rng(sum(sizes))
    a = rng.normal(0.0, 1.0, sizes[0])
    b = rng.normal(0.1, 1.2, sizes[1])

    ours = weighted_ks_test(a, b)
    theirs = ks_2samp(a, b, method="asymp")

    assert ours.statistic == pytest.approx(theirs.statistic, abs=1e-12)
    assert ours.pvalue == pytest.approx(theirs.pvalue, rel=1e-9)


def test_ties_between_samples_are_handled_as_scipy_does():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 5, 400).astype(float)
    b = rng.integers(0, 6, 300).astype(float)

    assert weighted_ks_test(a, b).statistic == pytest.approx(ks_2samp(a, b).statistic)


def test_integer_weights_act_as_repeated_events():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=200), rng.normal(0.3, 1.0, 150)
    weights = rng.integers(1, 4, a.size).astype(float)

    weighted = weighted_ks_test(a, b, weights, None)
    repeated = ks_2samp(np.repeat(a, weights.astype(int)), b)

    assert weighted.statistic == pytest.approx(repeated.statistic, abs=1e-12)


def test_identical_distributions_give_p_values_that_are_not_small():
    rng = np.random.default_rng(4)
    pvalues = [
        weighted_ks_test(
            rng.beta(2, 3, 2000),
            rng.beta(2, 3, 1500),
            rng.lognormal(0, 0.3, 2000),
            rng.lognormal(0, 0.3, 1500),
        ).pvalue
        for _ in range(20)
    ]
    # Under the null hypothesis p-values are uniform: few small ones.
    assert np.mean(np.asarray(pvalues) < 0.01) <= 0.1
    assert np.median(pvalues) > 0.2


def test_different_distributions_give_a_tiny_p_value():
    rng = np.random.default_rng(5)
    result = weighted_ks_test(rng.beta(2, 3, 2000), rng.beta(3, 2, 2000))

    assert result.pvalue < 1e-10
    assert result.statistic > 0.2


def test_effective_events_is_the_count_for_equal_weights():
    assert effective_events(np.full(40, 0.3)) == pytest.approx(40.0)
    assert effective_events(np.array([1.0, 1.0, 2.0])) == pytest.approx(16 / 6)


def test_bad_samples_are_refused():
    with pytest.raises(ValueError, match="empty"):
        weighted_ks_test([], [1.0])
    with pytest.raises(ValueError, match="sum to more than zero"):
        weighted_ks_test([1.0, 2.0], [1.0], [1.0, -1.0], None)
    with pytest.raises(ValueError, match="not finite"):
        weighted_ks_test([np.nan], [1.0])


def test_overtraining_check_tests_each_class_and_tolerates_a_missing_one():
    rng = np.random.default_rng(6)
    labels = (rng.random(2000) < 0.5).astype(np.int8)
    scores = np.where(labels == 1, rng.beta(3, 2, 2000), rng.beta(2, 3, 2000))
    train = Scored(scores[:1000], labels[:1000], np.ones(1000), labels[:1000])
    # Test signal shifted: overtraining shows in the signal only.
    test_scores = np.where(labels[1000:] == 1, scores[1000:] ** 3, scores[1000:])
    test = Scored(test_scores, labels[1000:], np.ones(1000), labels[1000:])

    result = overtraining_check(train, test)

    assert result["signal"]["ks_pvalue"] < 1e-6
    assert result["background"]["ks_pvalue"] > 0.001
    no_signal = Scored(
        scores[labels == 0],
        labels[labels == 0],
        np.ones(int((labels == 0).sum())),
        labels[labels == 0],
    )
    assert overtraining_check(no_signal, test)["signal"] is None
