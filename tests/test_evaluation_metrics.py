"""Weighted ROC, AUC, loss and accuracy, and their aggregation over folds."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score, roc_curve

from tw_pipeline.evaluation.metrics import (
    aggregate_folds,
    evaluate_scores,
    fold_metrics,
    weighted_accuracy,
    weighted_auc,
    weighted_log_loss,
    weighted_roc,
)
from tw_pipeline.evaluation.outcome import Scored


def scored_events(
    n: int = 400, *, negative_share: float = 0.0, ties: bool = False, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.4).astype(np.int8)
    scores = 1.0 / (1.0 + np.exp(-(rng.normal(size=n) + 1.2 * labels - 0.5)))
    if ties:
        scores = np.round(scores, 1)
    weights = rng.uniform(0.2, 3.0, n)
    weights[rng.random(n) < negative_share] *= -1.0
    return labels, scores, weights


def pairwise_auc(labels, scores, weights) -> float:
    """Weighted Mann-Whitney statistic by brute force over all pairs."""
    signal = labels == 1
    s_scores, s_weights = scores[signal], weights[signal]
    b_scores, b_weights = scores[~signal], weights[~signal]
    above = (s_scores[:, None] > b_scores[None, :]).astype(float)
    tied = (s_scores[:, None] == b_scores[None, :]).astype(float)
    pair_weights = s_weights[:, None] * b_weights[None, :]
    return float(np.sum(pair_weights * (above + 0.5 * tied)) / pair_weights.sum())


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("negative_share", [0.0, 0.15])
def test_roc_curve_matches_scikit_learn(ties, negative_share):
    labels, scores, weights = scored_events(negative_share=negative_share, ties=ties)

    background_eff, signal_eff, thresholds = weighted_roc(labels, scores, weights)
    fpr, tpr, sk_thresholds = roc_curve(
        labels, scores, sample_weight=weights, drop_intermediate=False
    )

    np.testing.assert_allclose(background_eff, fpr, atol=1e-12)
    np.testing.assert_allclose(signal_eff, tpr, atol=1e-12)
    assert thresholds[0] == np.inf
    np.testing.assert_array_equal(thresholds[1:], sk_thresholds[1:])


@pytest.mark.parametrize("ties", [False, True])
def test_auc_matches_scikit_learn_for_positive_weights(ties):
    labels, scores, weights = scored_events(ties=ties)

    expected = roc_auc_score(labels, scores, sample_weight=weights)

    assert weighted_auc(labels, scores, weights) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("ties", [False, True])
def test_auc_with_negative_weights_is_the_weighted_pair_statistic(ties):
    labels, scores, weights = scored_events(n=300, negative_share=0.2, ties=ties)

    assert weighted_auc(labels, scores, weights) == pytest.approx(
        pairwise_auc(labels, scores, weights), abs=1e-12
    )


def test_unit_weights_give_the_unweighted_auc_and_scale_does_not_matter():
    labels, scores, weights = scored_events()

    unit = weighted_auc(labels, scores, np.ones_like(weights))
    scaled = weighted_auc(labels, scores, 1e-6 * weights)

    assert unit == pytest.approx(roc_auc_score(labels, scores))
    assert scaled == pytest.approx(weighted_auc(labels, scores, weights))


@pytest.mark.parametrize(
    ("scores", "expected"),
    [([0.9, 0.8, 0.2, 0.1], 1.0), ([0.1, 0.2, 0.8, 0.9], 0.0), ([0.5] * 4, 0.5)],
)
def test_auc_of_perfect_inverted_and_guessing_classifiers(scores, expected):
    labels = np.array([1, 1, 0, 0])

    assert weighted_auc(labels, np.array(scores), np.ones(4)) == pytest.approx(expected)


def test_roc_refuses_a_class_without_positive_weight():
    labels = np.array([1, 1, 0, 0])

    with pytest.raises(ValueError, match="positive total weight per class"):
        weighted_roc(
            labels, np.array([0.9, 0.1, 0.5, 0.4]), np.array([1.0, -2.0, 1, 1])
        )


def test_log_loss_matches_scikit_learn():
    labels, scores, weights = scored_events()

    expected = log_loss(labels, scores, sample_weight=weights)

    assert weighted_log_loss(labels, scores, weights) == pytest.approx(expected)


def test_log_loss_stays_finite_for_certain_wrong_answers():
    loss = weighted_log_loss(np.array([1, 0]), np.array([0.0, 1.0]), np.ones(2))

    assert np.isfinite(loss)
    assert loss == pytest.approx(-np.log(1e-7), rel=1e-3)


def test_accuracy_matches_scikit_learn_with_a_cut_at_one_half():
    labels, scores, weights = scored_events()

    expected = accuracy_score(labels, scores > 0.5, sample_weight=weights)

    assert weighted_accuracy(labels, scores, weights) == pytest.approx(expected)


def test_score_of_exactly_one_half_counts_as_background():
    accuracy = weighted_accuracy(np.array([0, 1]), np.array([0.5, 0.5]), np.ones(2))

    assert accuracy == pytest.approx(0.5)


def test_mismatched_lengths_are_a_programming_error():
    with pytest.raises(ValueError, match="one entry per event"):
        weighted_auc(np.array([1, 0]), np.array([0.3]), np.ones(2))


def to_scored(labels, scores, weights) -> Scored:
    return Scored(
        scores=scores,
        labels=labels,
        weights=weights,
        sample_index=labels.astype(np.int16),
    )


def test_evaluate_scores_reports_all_numbers_as_json():
    labels, scores, weights = scored_events(negative_share=0.1)

    result = evaluate_scores(to_scored(labels, scores, weights))

    assert set(result) == {"auc", "loss", "accuracy", "events", "sum_weights"}
    assert result["auc"] == pytest.approx(weighted_auc(labels, scores, weights))
    assert result["events"] == labels.size
    assert result["sum_weights"] == pytest.approx(weights.sum())
    json.dumps(result, allow_nan=False)


def test_evaluate_scores_leaves_auc_empty_when_a_class_is_missing():
    labels = np.zeros(10, dtype=np.int8)

    result = evaluate_scores(to_scored(labels, np.linspace(0, 1, 10), np.ones(10)))

    assert result["auc"] is None
    assert result["loss"] is not None
    json.dumps(result, allow_nan=False)


def test_evaluate_scores_leaves_numbers_empty_for_non_finite_scores(caplog):
    labels, scores, weights = scored_events(n=20)
    scores[3] = np.nan

    result = evaluate_scores(to_scored(labels, scores, weights))

    assert result["auc"] is None and result["loss"] is None
    assert result["accuracy"] is None
    assert "not finite" in caplog.text
    json.dumps(result, allow_nan=False)


def test_fold_metrics_has_the_documented_shape():
    labels, scores, weights = scored_events()
    scored = to_scored(labels, scores, weights)

    record = fold_metrics(
        2, scored, scored, epochs_trained=7, best_epoch=5, seconds=1.234
    )

    assert record["fold"] == 2
    assert record["epochs_trained"] == 7
    assert record["best_epoch"] == 5
    assert record["seconds"] == pytest.approx(1.23)
    assert (
        set(record["train"])
        == set(record["test"])
        == {
            "auc",
            "loss",
            "accuracy",
            "events",
            "sum_weights",
        }
    )
    json.dumps(record, allow_nan=False)


def fold_record(test_auc, train_auc=0.9, loss=0.4, accuracy=0.8):
    numbers = {"loss": loss, "accuracy": accuracy, "events": 10, "sum_weights": 1.0}
    return {
        "fold": 0,
        "train": {"auc": train_auc, **numbers},
        "test": {"auc": test_auc, **numbers},
    }


def test_aggregate_gives_mean_and_sample_spread_over_folds():
    aucs = [0.80, 0.84, 0.83]

    result = aggregate_folds([fold_record(auc) for auc in aucs])

    assert result["test_auc_mean"] == pytest.approx(np.mean(aucs))
    assert result["test_auc_std"] == pytest.approx(np.std(aucs, ddof=1))
    assert result["train_auc_mean"] == pytest.approx(0.9)
    assert result["train_auc_std"] == pytest.approx(0.0)
    assert result["test_loss_mean"] == pytest.approx(0.4)
    assert result["test_accuracy_mean"] == pytest.approx(0.8)
    assert result["folds"] == 3


def test_aggregate_of_one_fold_has_zero_spread():
    result = aggregate_folds([fold_record(0.75)])

    assert result["test_auc_mean"] == pytest.approx(0.75)
    assert result["test_auc_std"] == 0.0


def test_aggregate_is_empty_when_a_fold_lacks_the_number():
    result = aggregate_folds([fold_record(0.8), fold_record(None)])

    assert result["test_auc_mean"] is None
    assert result["test_auc_std"] is None
    assert result["train_auc_mean"] == pytest.approx(0.9)
    json.dumps(result, allow_nan=False)
