"""Training one fold end to end on tiny, separable toy data."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from tw_pipeline.data.dataset import Dataset
from tw_pipeline.errors import InvalidData
from tw_pipeline.study.models import Study
from tw_pipeline.training.folds import assign_folds
from tw_pipeline.training.preprocess import Scaler
from tw_pipeline.training.train import train_fold

VARIABLES = ("mass_lep1jet1", "pT_jet2", "deltaR_lep1_jet1")

# Keras' model saving converts TensorFlow variables with np.array, which
# NumPy 2 flags as deprecated; it is inside Keras and harmless here.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def toy_dataset(n: int = 450, *, separable: bool = True, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.4).astype(np.int8)
    features = rng.normal(size=(n, len(VARIABLES)))
    if separable:
        features[:, 0] += 2.0 * labels
        features[:, 1] -= 1.0 * labels
    features = features * [40.0, 25.0, 1.0] + [150.0, 60.0, 2.0]
    weights = rng.uniform(0.5, 1.5, n) * np.where(labels == 1, 0.01, 1.0)
    weights[rng.random(n) < 0.05] *= -1.0
    return Dataset(
        features=features.astype(np.float32),
        labels=labels,
        weights=weights,
        sample_index=(1 - labels).astype(np.int16),
        event_number=None,
        variables=VARIABLES,
        sample_names=("tW", "ttbar"),
    )


def toy_study(**sections) -> Study:
    settings = {
        "study": "toy",
        "data": {
            "samples": {
                "tW": {"class": "signal", "files": ["tW.h5"]},
                "ttbar": {"class": "background", "files": ["ttbar.h5"]},
            }
        },
        "variables": list(VARIABLES),
        "preprocess": {"negative_weights": "drop"},
        "network": {"hidden_layers": 2, "nodes": 8},
        "optimizer": {"name": "adam", "learning_rate": 0.02},
        "training": {"epochs": 3, "batch_size": 32, "early_stopping": None, "seed": 5},
        "folds": {"k": 3},
    }
    settings.update(sections)
    return Study.model_validate(settings)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    dataset = toy_dataset()
    study = toy_study()
    folds = assign_folds(dataset.labels, study.folds.k, study.training.seed)
    fold_dir = tmp_path_factory.mktemp("point") / "fold-1"
    outcome = train_fold(dataset, 1, folds, study, fold_dir)
    return dataset, study, folds, fold_dir, outcome


def test_fold_writes_model_scaler_and_history(trained):
    _, study, _, fold_dir, outcome = trained

    assert sorted(path.name for path in fold_dir.iterdir()) == [
        "history.csv",
        "model.keras",
        "scaler.json",
        "test_scores.npz",
    ]
    history = pd.read_csv(fold_dir / "history.csv")
    assert list(history.columns) == [
        "epoch",
        "loss",
        "val_loss",
        "accuracy",
        "val_accuracy",
        "seconds",
    ]
    assert history["epoch"].tolist() == [1, 2, 3]
    assert (history["seconds"] > 0).all()
    pd.testing.assert_frame_equal(
        history, outcome.history, check_exact=False, rtol=1e-5
    )

    preprocessing = json.loads((fold_dir / "scaler.json").read_text())
    assert preprocessing["variables"] == list(VARIABLES)
    assert preprocessing["kind"] == "standard"
    assert preprocessing["training_weights"]["negative_weights"] == "drop"
    assert preprocessing["training_weights"]["balance_classes"] is True
    assert preprocessing["fold"] == 1 and preprocessing["k"] == 3


def test_saved_model_and_scaler_reproduce_the_test_scores(trained):
    dataset, _, folds, fold_dir, outcome = trained

    model = keras.saving.load_model(fold_dir / "model.keras")
    scaler = Scaler.from_json(json.loads((fold_dir / "scaler.json").read_text()))
    x = scaler.transform(dataset.features[folds == 1])
    scores = model.predict(x, verbose=0).reshape(-1)

    np.testing.assert_allclose(scores, outcome.test.scores, rtol=1e-5, atol=1e-6)


def test_separable_toy_data_gives_a_clearly_better_than_random_auc(trained):
    *_, outcome = trained

    assert outcome.metrics["test"]["auc"] > 0.8
    assert outcome.metrics["train"]["auc"] > 0.8


def test_train_and_test_events_come_from_the_right_folds_with_true_weights(trained):
    dataset, _, folds, _, outcome = trained
    test_rows = folds == 1

    assert outcome.fold == 1
    np.testing.assert_array_equal(outcome.test.weights, dataset.weights[test_rows])
    np.testing.assert_array_equal(outcome.train.weights, dataset.weights[~test_rows])
    np.testing.assert_array_equal(outcome.test.labels, dataset.labels[test_rows])
    np.testing.assert_array_equal(
        outcome.test.sample_index, dataset.sample_index[test_rows]
    )
    # Negative weights are dropped from training, never from evaluation.
    assert (outcome.test.weights < 0).any()
    assert outcome.metrics["test"]["sum_weights"] == pytest.approx(
        dataset.weights[test_rows].sum()
    )
    assert outcome.metrics["test"]["events"] == int(test_rows.sum())


def test_metrics_record_is_complete_json(trained):
    *_, outcome = trained
    metrics = outcome.metrics

    assert metrics["fold"] == 1
    assert metrics["epochs_trained"] == 3
    assert metrics["best_epoch"] == int(outcome.history["val_loss"].idxmin()) + 1
    assert metrics["seconds"] > 0
    json.dumps(metrics, allow_nan=False)


def test_same_study_twice_gives_identical_numbers(trained, tmp_path, caplog, capsys):
    dataset, study, folds, _, outcome = trained

    with caplog.at_level(logging.INFO, logger="tw_pipeline.training.train"):
        again = train_fold(
            dataset, 1, folds, study, tmp_path / "fold-1", progress_prefix="point 2/4 "
        )

    for part in ("train", "test"):
        assert again.metrics[part] == outcome.metrics[part]
    # Everything but the epochs' wall times repeats exactly.
    pd.testing.assert_frame_equal(
        again.history.drop(columns="seconds"), outcome.history.drop(columns="seconds")
    )
    np.testing.assert_array_equal(again.test.scores, outcome.test.scores)

    messages = [record.getMessage() for record in caplog.records]
    epoch_lines = [line for line in messages if re.search(r"epoch \d+/\d+ loss=", line)]
    assert len(epoch_lines) == 3
    assert epoch_lines[0].startswith("point 2/4 fold 2/3 epoch 1/3 loss=")
    assert "val_loss=" in epoch_lines[0] and epoch_lines[0].endswith("s)")
    assert capsys.readouterr().out == ""


def test_scaler_is_fitted_on_the_training_folds_only(tmp_path):
    dataset = toy_dataset(300)
    study = toy_study(training={"epochs": 1, "batch_size": 64, "early_stopping": None})
    folds = assign_folds(dataset.labels, 3, seed=1)
    shifted = dataset.features.copy()
    shifted[folds == 0] += 1000.0
    dataset = Dataset(
        features=shifted,
        labels=dataset.labels,
        weights=dataset.weights,
        sample_index=dataset.sample_index,
        event_number=None,
        variables=VARIABLES,
        sample_names=dataset.sample_names,
    )

    train_fold(dataset, 0, folds, study, tmp_path)

    offsets = json.loads((tmp_path / "scaler.json").read_text())["offsets"]
    training_mean = shifted[folds != 0].mean(axis=0)
    all_mean = shifted.mean(axis=0)
    np.testing.assert_allclose(
        offsets, training_mean, atol=0.2 * training_mean.std() + 5
    )
    assert np.all(all_mean - np.asarray(offsets) > 300)


def test_early_stopping_keeps_the_best_epoch(tmp_path):
    dataset = toy_dataset(300, separable=False)
    patience = 2
    study = toy_study(
        optimizer={"name": "adam", "learning_rate": 0.05},
        training={
            "epochs": 40,
            "batch_size": 32,
            "early_stopping": {"patience": patience},
        },
    )
    folds = assign_folds(dataset.labels, 3, seed=1)

    outcome = train_fold(dataset, 2, folds, study, tmp_path)

    epochs = outcome.metrics["epochs_trained"]
    assert epochs < 40
    assert outcome.metrics["best_epoch"] == epochs - patience
    best_val_loss = outcome.history["val_loss"].min()
    assert outcome.history["val_loss"].iloc[-1] > best_val_loss


def test_class_without_positive_training_weight_is_refused(tmp_path):
    dataset = toy_dataset(150)
    weights = np.where(dataset.labels == 1, -np.abs(dataset.weights), dataset.weights)
    dataset = Dataset(
        features=dataset.features,
        labels=dataset.labels,
        weights=weights,
        sample_index=dataset.sample_index,
        event_number=None,
        variables=VARIABLES,
        sample_names=dataset.sample_names,
    )
    study = toy_study(preprocess={"negative_weights": "keep"})
    folds = assign_folds(dataset.labels, 3, seed=1)

    with pytest.raises(InvalidData, match="signal training events' weights sum to"):
        train_fold(dataset, 0, folds, study, tmp_path / "fold-0")

    assert not (tmp_path / "fold-0" / "model.keras").exists()


def test_a_fresh_process_reproduces_the_metrics(trained, tmp_path):
    dataset, study, folds, _, outcome = trained
    # A new interpreter starts from clean global state, as a rerun of the
    # study would; the earlier trainings in this process must not matter.
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_training_train import assign_folds, toy_dataset, toy_study\n"
        "from tw_pipeline.training.train import train_fold\n"
        "dataset, study = toy_dataset(), toy_study()\n"
        "folds = assign_folds(dataset.labels, 3, study.training.seed)\n"
        f"outcome = train_fold(dataset, 1, folds, study, {str(tmp_path)!r})\n"
        "print(json.dumps(outcome.metrics))\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    fresh = json.loads(result.stdout.strip().splitlines()[-1])
    for part in ("train", "test"):
        assert fresh[part] == outcome.metrics[part]
    assert fresh["best_epoch"] == outcome.metrics["best_epoch"]


def test_diverging_training_stops_and_leaves_numbers_empty(tmp_path, capsys, caplog):
    dataset = toy_dataset(150)
    study = toy_study(
        optimizer={"name": "sgd", "learning_rate": 1e12},
        training={"epochs": 5, "batch_size": 32, "early_stopping": None},
    )
    folds = assign_folds(dataset.labels, 3, seed=1)

    outcome = train_fold(dataset, 0, folds, study, tmp_path)

    assert outcome.metrics["epochs_trained"] < 5
    assert outcome.metrics["best_epoch"] is None
    assert outcome.metrics["test"]["auc"] is None
    json.dumps(outcome.metrics, allow_nan=False)
    assert (tmp_path / "model.keras").exists()
    assert "learning_rate" in caplog.text
    assert capsys.readouterr().out == ""
