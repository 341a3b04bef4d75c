"""The classifier network and optimizer built from the study sections."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tw_pipeline.study.models import ACTIVATIONS, Network, Optimizer
from tw_pipeline.training.network import build_model, build_optimizer, network_summary


def dense_layers(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def test_layer_widths_follow_the_nodes_list():
    network = Network(hidden_layers=3, nodes=[16, 8, 4])

    model = build_model(network, n_inputs=5, seed=1)

    assert [layer.units for layer in dense_layers(model)] == [16, 8, 4, 1]
    assert model.input_shape == (None, 5)
    assert model.output_shape == (None, 1)


def test_one_width_repeats_for_every_hidden_layer():
    model = build_model(Network(hidden_layers=4, nodes=6), n_inputs=3, seed=1)

    assert [layer.units for layer in dense_layers(model)] == [6, 6, 6, 6, 1]


def test_hidden_layers_use_the_activation_and_the_output_is_a_sigmoid():
    model = build_model(Network(hidden_layers=2, nodes=4, activation="tanh"), 3, seed=1)

    *hidden, output = dense_layers(model)
    assert all(layer.activation is keras.activations.tanh for layer in hidden)
    assert output.activation is keras.activations.sigmoid
    scores = model.predict(
        np.random.default_rng(0).normal(size=(50, 3)) * 10, verbose=0
    )
    assert np.all((scores >= 0) & (scores <= 1))


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_offered_activation_builds(activation):
    model = build_model(Network(hidden_layers=1, nodes=3, activation=activation), 2, 1)

    assert dense_layers(model)[0].activation is keras.activations.get(activation)


def test_batch_normalisation_and_dropout_follow_each_hidden_layer():
    network = Network(hidden_layers=2, nodes=4, batch_norm=True, dropout=0.3)

    model = build_model(network, 3, seed=1)

    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == [
        "InputLayer",
        "Dense",
        "BatchNormalization",
        "Dropout",
        "Dense",
        "BatchNormalization",
        "Dropout",
        "Dense",
    ]
    assert all(
        layer.rate == pytest.approx(0.3)
        for layer in model.layers
        if isinstance(layer, keras.layers.Dropout)
    )


def test_no_dropout_or_batch_normalisation_layers_unless_asked_for():
    model = build_model(Network(hidden_layers=2, nodes=4), 3, seed=1)

    kinds = {type(layer).__name__ for layer in model.layers}
    assert kinds == {"InputLayer", "Dense"}


def test_selu_gets_lecun_initial_weights_and_alpha_dropout():
    model = build_model(
        Network(hidden_layers=1, nodes=4, activation="selu", dropout=0.1), 3, 1
    )

    assert isinstance(
        dense_layers(model)[0].kernel_initializer, keras.initializers.LecunNormal
    )
    assert any(isinstance(layer, keras.layers.AlphaDropout) for layer in model.layers)


def test_l2_penalty_applies_to_hidden_layers():
    model = build_model(Network(hidden_layers=2, nodes=4, l2=0.01), 3, seed=1)

    *hidden, output = dense_layers(model)
    assert all(layer.kernel_regularizer.l2 == pytest.approx(0.01) for layer in hidden)
    assert output.kernel_regularizer is None


def test_same_seed_gives_the_same_initial_network():
    network = Network(hidden_layers=2, nodes=5, dropout=0.2)

    first = build_model(network, 3, seed=4).get_weights()
    again = build_model(network, 3, seed=4).get_weights()
    other = build_model(network, 3, seed=5).get_weights()

    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_summary_lists_layers_and_parameter_count():
    model = build_model(Network(hidden_layers=2, nodes=[8, 4], dropout=0.1), 3, seed=1)

    text = network_summary(model)

    for name in ("hidden_1", "hidden_2", "dropout_1", "score"):
        assert name in text
    assert "(None, 8)" in text
    assert f"total parameters: {model.count_params():,}" in text
    assert "activation=relu" in text
    assert not text.endswith("\n")


def test_sgd_with_momentum_and_nesterov():
    optimizer = build_optimizer(
        Optimizer(name="sgd", learning_rate=0.03, momentum=0.2, nesterov=True)
    )

    assert isinstance(optimizer, keras.optimizers.SGD)
    assert optimizer.momentum == pytest.approx(0.2)
    assert optimizer.nesterov is True
    assert float(optimizer.learning_rate) == pytest.approx(0.03)


def test_adam_and_rmsprop():
    adam = build_optimizer(Optimizer(name="adam", learning_rate=0.002))
    rmsprop = build_optimizer(Optimizer(name="rmsprop", momentum=0.5))

    assert isinstance(adam, keras.optimizers.Adam)
    assert float(adam.learning_rate) == pytest.approx(0.002)
    assert isinstance(rmsprop, keras.optimizers.RMSprop)
    assert rmsprop.momentum == pytest.approx(0.5)


def test_adamw_weight_decay_given_or_default():
    given = build_optimizer(Optimizer(name="adamw", weight_decay=0.01))
    default = build_optimizer(Optimizer(name="adamw"))

    assert isinstance(given, keras.optimizers.AdamW)
    assert given.weight_decay == pytest.approx(0.01)
    assert default.weight_decay == pytest.approx(0.004)


@pytest.mark.parametrize(
    ("kind", "schedule_class", "rate_at_1000_steps"),
    [
        ("exponential", "ExponentialDecay", 0.1 * 0.5),
        ("cosine", "CosineDecay", 0.0),
        ("inverse_time", "InverseTimeDecay", 0.1 / 1.5),
    ],
)
def test_learning_rate_schedules(kind, schedule_class, rate_at_1000_steps):
    optimizer = Optimizer(
        name="sgd",
        learning_rate=0.1,
        schedule={"type": kind, "decay_steps": 1000, "decay_rate": 0.5},
    )

    built = build_optimizer(optimizer)

    assert built.get_config()["learning_rate"]["class_name"] == schedule_class
    assert float(built.learning_rate) == pytest.approx(0.1)
    built.iterations.assign(1000)
    assert float(built.learning_rate) == pytest.approx(rate_at_1000_steps, abs=1e-7)
