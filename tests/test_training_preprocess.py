"""Input scalers and training weights."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from tw_pipeline.errors import InvalidData
from tw_pipeline.training.preprocess import Scaler, fit_scaler, training_weights

VARIABLES = ("mass_lep1jet1", "pT_jet2", "deltaR_lep1_jet1")


@pytest.fixture
def features() -> np.ndarray:
    rng = np.random.default_rng(7)
    columns = [
        rng.exponential(80.0, 500),
        rng.normal(50.0, 20.0, 500),
        rng.uniform(0.4, 5.0, 500),
    ]
    return np.column_stack(columns).astype(np.float32)


def test_standard_scaler_gives_zero_mean_and_unit_spread(features):
    scaled = fit_scaler("standard", features, VARIABLES).transform(features)

    assert scaled.dtype == np.float32
    np.testing.assert_allclose(scaled.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(scaled.std(axis=0), 1.0, atol=1e-5)


def test_minmax_scaler_maps_training_events_onto_unit_interval(features):
    scaled = fit_scaler("minmax", features, VARIABLES).transform(features)

    np.testing.assert_allclose(scaled.min(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(scaled.max(axis=0), 1.0, atol=1e-6)


def test_robust_scaler_centres_the_median_and_scales_the_quartile_range(features):
    scaled = fit_scaler("robust", features, VARIABLES).transform(features)

    np.testing.assert_allclose(np.median(scaled, axis=0), 0.0, atol=1e-5)
    lower, upper = np.percentile(scaled, [25, 75], axis=0)
    np.testing.assert_allclose(upper - lower, 1.0, atol=1e-5)


def test_none_scaler_leaves_inputs_unchanged(features):
    scaled = fit_scaler("none", features, VARIABLES).transform(features)

    np.testing.assert_array_equal(scaled, features)


def test_scaler_learns_from_the_rows_it_is_given_only(features):
    training = features[:300]
    shifted_test = features[300:] + 1000.0
    everything = np.vstack([training, shifted_test])

    from_training = fit_scaler("standard", training, VARIABLES)
    from_everything = fit_scaler("standard", everything, VARIABLES)

    np.testing.assert_allclose(from_training.offsets, training.mean(axis=0), rtol=1e-5)
    assert all(
        b - a > 300
        for a, b in zip(from_training.offsets, from_everything.offsets, strict=True)
    )


@pytest.mark.parametrize("kind", ["standard", "minmax", "robust"])
def test_constant_column_does_not_divide_by_zero(kind, features, caplog):
    features[:, 1] = 3.0

    with caplog.at_level(logging.WARNING):
        scaler = fit_scaler(kind, features, VARIABLES)
    scaled = scaler.transform(features)

    assert scaler.scales[1] == 1.0
    assert np.all(np.isfinite(scaled))
    assert "pT_jet2" in caplog.text


@pytest.mark.parametrize("kind", ["standard", "minmax", "robust", "none"])
def test_scaler_survives_a_json_round_trip(kind, features):
    scaler = fit_scaler(kind, features, VARIABLES)

    text = json.dumps(scaler.to_json(), allow_nan=False)
    restored = Scaler.from_json(json.loads(text))

    assert restored == scaler
    np.testing.assert_array_equal(
        restored.transform(features), scaler.transform(features)
    )


def test_scaler_json_names_kind_and_variables(features):
    payload = fit_scaler("minmax", features, VARIABLES).to_json()

    assert payload["kind"] == "minmax"
    assert payload["variables"] == list(VARIABLES)
    assert len(payload["offsets"]) == len(payload["scales"]) == 3


def test_scaler_json_with_extra_records_is_accepted(features):
    payload = fit_scaler("standard", features, VARIABLES).to_json()
    payload["training_weights"] = {"negative_weights": "keep"}

    assert Scaler.from_json(payload).variables == VARIABLES


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"scales": None}, "lacks scales"),
        ({"offsets": [0.0]}, "3 variables but 1 offsets"),
        ({"scales": [1.0, 0.0, 1.0]}, "scales non-zero"),
        ({"kind": "quantile"}, "unknown scaler kind 'quantile'"),
    ],
)
def test_damaged_scaler_json_is_refused_naming_the_file(change, message, features):
    payload = fit_scaler("standard", features, VARIABLES).to_json()
    for key, value in change.items():
        if value is None:
            del payload[key]
        else:
            payload[key] = value

    with pytest.raises(InvalidData, match=message) as caught:
        Scaler.from_json(payload, source="fold-0/scaler.json")

    assert "fold-0/scaler.json" in str(caught.value)


def test_transform_refuses_wrong_number_of_columns(features):
    scaler = fit_scaler("standard", features, VARIABLES)

    with pytest.raises(ValueError, match="expected an array with 3 columns"):
        scaler.transform(features[:, :2])


def test_unknown_scaler_kind_is_a_programming_error(features):
    with pytest.raises(ValueError, match="scaler must be one of"):
        fit_scaler("quantile", features, VARIABLES)


def weighted_events() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    labels = np.r_[np.ones(200, dtype=np.int8), np.zeros(600, dtype=np.int8)]
    weights = np.r_[rng.uniform(0.001, 0.003, 200), rng.uniform(0.5, 2.0, 600)]
    negative = rng.random(800) < 0.1
    weights[negative] *= -0.5
    return weights, labels


def test_class_balancing_equalises_the_class_sums():
    weights, labels = weighted_events()

    trained, keep = training_weights(weights, labels, "keep", balance_classes=True)

    assert keep.all()
    assert trained[labels == 1].sum() == pytest.approx(trained[labels == 0].sum())


def test_training_weights_have_mean_one_and_keep_ratios_within_a_class():
    weights, labels = weighted_events()

    trained, _ = training_weights(weights, labels, "keep", balance_classes=True)

    assert trained.mean() == pytest.approx(1.0)
    signal = labels == 1
    np.testing.assert_allclose(
        trained[signal] / trained[signal][0], weights[signal] / weights[signal][0]
    )


def test_without_balancing_the_class_ratio_is_kept():
    weights, labels = weighted_events()

    trained, _ = training_weights(weights, labels, "keep", balance_classes=False)

    true_ratio = weights[labels == 1].sum() / weights[labels == 0].sum()
    trained_ratio = trained[labels == 1].sum() / trained[labels == 0].sum()
    assert trained_ratio == pytest.approx(true_ratio)
    assert trained.mean() == pytest.approx(1.0)


def test_negative_weights_kept():
    weights, labels = weighted_events()

    trained, _ = training_weights(weights, labels, "keep", balance_classes=False)

    np.testing.assert_array_equal(trained < 0, weights < 0)


def test_negative_weights_zeroed():
    weights, labels = weighted_events()

    trained, keep = training_weights(weights, labels, "zero", balance_classes=False)

    assert keep.all()
    assert np.all(trained[weights < 0] == 0)
    assert np.all(trained[weights > 0] > 0)


def test_negative_weights_made_positive():
    weights, labels = weighted_events()

    trained, _ = training_weights(weights, labels, "abs", balance_classes=False)

    assert np.all(trained > 0)
    np.testing.assert_allclose(trained / trained[0], np.abs(weights) / abs(weights[0]))


def test_negative_weight_events_dropped_from_training():
    weights, labels = weighted_events()

    trained, keep = training_weights(weights, labels, "drop", balance_classes=True)

    np.testing.assert_array_equal(keep, weights >= 0)
    assert np.all(trained[~keep] == 0)
    assert trained[keep].mean() == pytest.approx(1.0)
    kept_signal = keep & (labels == 1)
    kept_background = keep & (labels == 0)
    assert trained[kept_signal].sum() == pytest.approx(trained[kept_background].sum())


def test_training_weights_leave_the_true_weights_untouched():
    weights, labels = weighted_events()
    before = weights.copy()

    training_weights(weights, labels, "abs", balance_classes=True)

    np.testing.assert_array_equal(weights, before)


def test_a_class_with_non_positive_weight_sum_is_refused():
    weights, labels = weighted_events()
    weights[labels == 1] = -np.abs(weights[labels == 1])

    with pytest.raises(
        InvalidData, match="signal training events' weights sum to"
    ) as caught:
        training_weights(weights, labels, "keep", balance_classes=True)

    message = str(caught.value)
    assert "preprocess.negative_weights" in message
    assert "'abs' or 'zero'" in message


def test_dropping_every_event_of_a_class_is_refused():
    weights, labels = weighted_events()
    weights[labels == 0] = -1.0

    with pytest.raises(
        InvalidData, match="background training events' weights sum to 0"
    ):
        training_weights(weights, labels, "drop", balance_classes=False)


def test_unknown_negative_weight_policy_is_a_programming_error():
    weights, labels = weighted_events()

    with pytest.raises(ValueError, match="negative_weights_policy must be one of"):
        training_weights(weights, labels, "clip", balance_classes=True)


@pytest.mark.parametrize("kind", ["standard", "minmax", "robust", "none"])
def test_scaler_fitted_on_rows_equals_one_fitted_on_their_copy(kind) -> None:
    # More rows than one block, in shuffled order, as a fold's training rows are.
    rng = np.random.default_rng(3)
    everything = rng.normal(20.0, 5.0, size=(150_000, 3)).astype(np.float32)
    rows = rng.permutation(everything.shape[0])[:100_000]

    on_rows = fit_scaler(kind, everything, VARIABLES, rows=rows)
    on_copy = fit_scaler(kind, everything[rows], VARIABLES)

    assert on_rows.offsets == pytest.approx(on_copy.offsets, rel=1e-12)
    assert on_rows.scales == pytest.approx(on_copy.scales, rel=1e-12)
