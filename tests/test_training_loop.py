"""The compiled epoch loop reports what Keras would and visits every event."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tw_pipeline.study.models import Network, Optimizer  # noqa: E402
from tw_pipeline.training.loop import EpochRunner  # noqa: E402
from tw_pipeline.training.network import build_model, build_optimizer  # noqa: E402


def _arrays(n: int, seed: int):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, 1)) < 0.4).astype(np.float32)
    x = rng.normal(size=(n, 3)).astype(np.float32) + y
    w = rng.uniform(0.2, 2.0, n).astype(np.float32)
    w[:5] *= -1.0
    return x, y, w


def _model(l2: float = 0.0) -> keras.Model:
    keras.backend.clear_session()
    model = build_model(Network(hidden_layers=2, nodes=8, l2=l2), 3, seed=4)
    model.compile(
        optimizer=build_optimizer(Optimizer(name="adam", learning_rate=0.01)),
        loss=keras.losses.BinaryCrossentropy(),
        weighted_metrics=[keras.metrics.BinaryAccuracy(name="accuracy")],
    )
    return model


@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_validation_numbers_equal_keras_evaluate(l2):
    fit, validation = _arrays(300, 1), _arrays(20_000, 2)
    model = _model(l2)
    runner = EpochRunner(model, fit, validation, batch_size=64, seed=1)
    runner.train_epoch()

    result = runner.validate()
    loss, accuracy = model.evaluate(
        validation[0], validation[1], sample_weight=validation[2],
        batch_size=4096, verbose=0,
    )

    assert result.loss == pytest.approx(loss, rel=1e-5)
    assert result.accuracy == pytest.approx(accuracy, rel=1e-5)


def test_an_epoch_steps_through_every_batch_including_the_last_partial_one():
    fit, validation = _arrays(1000, 3), _arrays(100, 4)
    model = _model()
    runner = EpochRunner(model, fit, validation, batch_size=64, seed=1)

    runner.train_epoch()
    runner.train_epoch()

    # 15 full batches of 64 and one of 40, per epoch.
    assert int(model.optimizer.iterations.numpy()) == 2 * 16


def test_training_loss_is_the_event_average_keras_fit_reports():
    fit, validation = _arrays(512, 5), _arrays(100, 6)
    model = _model()
    before = model.get_weights()
    runner = EpochRunner(model, fit, validation, batch_size=512, seed=1)

    # One batch holding every event: the epoch's loss is that batch's loss
    # before the update, as model.fit would report it.
    expected = model.compute_loss(
        x=fit[0], y=fit[1], y_pred=model(fit[0]), sample_weight=fit[2]
    )
    result = runner.train_epoch()

    assert result.loss == pytest.approx(float(expected), rel=1e-5)
    assert any(
        not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True)
    )


def test_the_same_seed_repeats_an_epoch_exactly():
    fit, validation = _arrays(700, 7), _arrays(100, 8)
    results = []
    for _ in range(2):
        keras.utils.set_random_seed(3)
        model = _model()
        runner = EpochRunner(model, fit, validation, batch_size=50, seed=9)
        results.append((runner.train_epoch(), model.get_weights()))

    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_runner_frees_its_training_events_when_closed() -> None:
    # The tensors share the arrays' memory; a run trains fold after fold, so
    # each fold's inputs must be gone once its runner is closed, without
    # waiting for the cycle collector.
    import weakref

    from tw_pipeline.training.buffers import aligned_empty

    def aligned(array: np.ndarray) -> np.ndarray:
        copy = aligned_empty(array.shape, np.float32)
        copy[...] = array
        return copy

    fit = tuple(aligned(array) for array in _arrays(3000, seed=1))
    validation = tuple(aligned(array) for array in _arrays(500, seed=2))
    alive = [weakref.ref(array.base) for array in fit + validation]

    runner = EpochRunner(_model(), fit, validation, batch_size=256, seed=3)
    del fit, validation
    runner.train_epoch()
    runner.validate()
    runner.close()

    assert [ref() is None for ref in alive] == [True] * 6
