"""Asimov significance against the Poisson likelihood ratio; separation by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import poisson

from tw_pipeline.evaluation.outcome import Scored
from tw_pipeline.evaluation.separation import histogram_separation, separation
from tw_pipeline.evaluation.significance import (
    EventYields,
    asimov_significance,
    binned_asimov,
)


@pytest.mark.parametrize(("s", "b"), [(5, 20), (30, 100), (2, 400), (50, 5)])
def test_asimov_is_the_likelihood_ratio_of_the_asimov_data_set(s, b):
    # The Asimov data set has n = s + b observed events; the significance is
    # sqrt(-2 ln L(b) / L(s + b)) of Poisson likelihoods.
    n = s + b
    q0 = 2 * (poisson.logpmf(n, n) - poisson.logpmf(n, b))

    value, skipped = asimov_significance(np.array([s]), np.array([b]))

    assert value == pytest.approx(np.sqrt(q0), rel=1e-10)
    assert skipped == 0


def test_bins_combine_in_quadrature_and_empty_background_bins_are_counted():
    z1, _ = asimov_significance(np.array([5.0]), np.array([20.0]))
    z2, _ = asimov_significance(np.array([3.0]), np.array([50.0]))

    combined, skipped = asimov_significance(
        np.array([5.0, 3.0, 1.0]), np.array([20.0, 50.0, 0.0])
    )

    assert combined == pytest.approx(np.hypot(z1, z2))
    assert skipped == 1


def test_small_signal_approaches_s_over_sqrt_b():
    value, _ = asimov_significance(np.array([1.0]), np.array([1e6]))
    assert value == pytest.approx(1e-3, rel=1e-3)


def test_binned_asimov_scales_to_the_yields():
    labels = np.r_[np.ones(10), np.zeros(10)].astype(np.int8)
    scores = np.r_[np.full(10, 0.9), np.full(5, 0.9), np.full(5, 0.1)]
    events = Scored(scores, labels, np.full(20, 3.0), labels)
    yields = EventYields(signal=10.0, background=100.0, source="study")

    result = binned_asimov(events, yields, bins=2)

    # Upper bin: s = 10, b = 50; lower bin: no signal.
    expected, _ = asimov_significance(np.array([10.0]), np.array([50.0]))
    assert result["value"] == pytest.approx(expected)


def test_separation_is_zero_for_identical_and_one_for_disjoint_shapes():
    assert histogram_separation([1, 2, 3], [2, 4, 6]) == pytest.approx(0.0)
    assert histogram_separation([1, 2, 0, 0], [0, 0, 3, 1]) == pytest.approx(1.0)
    # s = (1/2, 1/2, 0), b = (0, 1/2, 1/2): 1/2 (1/4 / 1/2 + 0 + 1/4 / 1/2).
    assert histogram_separation([1, 1, 0], [0, 1, 1]) == pytest.approx(0.5)


def test_separation_of_events_uses_their_weights():
    values = np.array([0.1, 0.1, 0.9, 0.9])
    labels = np.array([1, 0, 1, 0])
    edges = np.array([0.0, 0.5, 1.0])

    balanced = separation(values, labels, np.ones(4), edges=edges)
    weighted = separation(values, labels, np.array([3.0, 1.0, 1.0, 3.0]), edges=edges)

    assert balanced == pytest.approx(0.0)
    # s = (3/4, 1/4), b = (1/4, 3/4): 1/2 * 2 * (1/4) / 1 = 1/4.
    assert weighted == pytest.approx(0.25)
