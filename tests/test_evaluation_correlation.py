"""Weighted correlations against NumPy on repeated events."""

from __future__ import annotations

import numpy as np
import pytest

from tw_pipeline.evaluation.correlation import weighted_correlation


def test_integer_weights_equal_repeated_events():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 4))
    x[:, 1] += 0.8 * x[:, 0]
    weights = rng.integers(1, 5, 300)

    ours = weighted_correlation(x, weights.astype(float))
    numpy = np.corrcoef(np.repeat(x, weights, axis=0), rowvar=False)

    np.testing.assert_allclose(ours, numpy, atol=1e-12)


def test_real_weights_equal_numpy_weighted_covariance():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(500, 3))
    x[:, 2] -= x[:, 1]
    weights = rng.lognormal(0, 0.5, 500)

    covariance = np.cov(x, rowvar=False, aweights=weights)
    scale = np.sqrt(np.diag(covariance))

    np.testing.assert_allclose(
        weighted_correlation(x, weights),
        covariance / np.outer(scale, scale),
        atol=1e-12,
    )


def test_exact_relations_and_constant_columns():
    x = np.c_[np.arange(10.0), -2 * np.arange(10.0), np.full(10, 3.0)]

    result = weighted_correlation(x, np.ones(10))

    assert result[0, 1] == pytest.approx(-1.0)
    assert np.isnan(result[2, 0]) and np.isnan(result[2, 2])
    with pytest.raises(ValueError, match="sum to more than zero"):
        weighted_correlation(x, np.zeros(10))
