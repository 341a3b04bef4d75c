"""Build the classifier network and its optimizer from the study.

The network is a fully connected stack: inputs, hidden Dense layers (each
optionally followed by batch normalisation and dropout) and one sigmoid
output, the probability that an event is signal.
"""

from __future__ import annotations

import math
import os

# The backend must be chosen before Keras is first imported; a user's own
# choice in the environment wins.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

from tw_pipeline.study.models import Network, Optimizer  # noqa: E402

__all__ = ["build_model", "build_optimizer", "network_summary"]

# AdamW's decoupled weight decay when the study leaves it out (Keras' default).
DEFAULT_WEIGHT_DECAY = 0.004


def build_model(network: Network, n_inputs: int, seed: int) -> keras.Model:
    """Build the (uncompiled) classifier described by ``network``.

    Every layer with random parts (initial weights, dropout masks) gets its
    own seed derived from ``seed``, so the same arguments always give the
    same initial network.

    With the ``selu`` activation the weights start from LeCun-normal values
    and dropout is alpha dropout, as self-normalising networks require
    (Klambauer et al., arXiv:1706.02515); other activations use Glorot-uniform
    initial weights and ordinary dropout.

    Args:
        network: the study's network section.
        n_inputs: number of input variables.
        seed: seed of the initial weights and dropout masks.

    Returns:
        A Keras model mapping (events, n_inputs) to (events, 1) scores in [0, 1].

    Raises:
        ValueError: if ``n_inputs`` is below 1.
    """
    if n_inputs < 1:
        msg = f"n_inputs must be at least 1. Got {n_inputs!r} instead."
        raise ValueError(msg)
    self_normalising = network.activation == "selu"
    regularizer = keras.regularizers.L2(network.l2) if network.l2 > 0 else None

    inputs = keras.Input(shape=(n_inputs,), name="inputs")
    hidden = inputs
    for index, width in enumerate(network.widths, start=1):
        if self_normalising:
            initializer = keras.initializers.LecunNormal(seed=seed + index)
        else:
            initializer = keras.initializers.GlorotUniform(seed=seed + index)
        hidden = keras.layers.Dense(
            width,
            activation=network.activation,
            kernel_initializer=initializer,
            kernel_regularizer=regularizer,
            name=f"hidden_{index}",
        )(hidden)

        if network.batch_norm:
            hidden = keras.layers.BatchNormalization(name=f"batch_norm_{index}")(hidden)

        if network.dropout > 0:
            # Offset so dropout seeds never coincide with initializer seeds.
            dropout_seed = seed + 10_000 + index
            if self_normalising:
                hidden = keras.layers.AlphaDropout(
                    network.dropout, seed=dropout_seed, name=f"dropout_{index}"
                )(hidden)
            else:
                hidden = keras.layers.Dropout(
                    network.dropout, seed=dropout_seed, name=f"dropout_{index}"
                )(hidden)

    score = keras.layers.Dense(
        1,
        activation="sigmoid",
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
        name="score",
    )(hidden)
    return keras.Model(inputs=inputs, outputs=score, name="classifier")


def build_optimizer(optimizer: Optimizer) -> keras.optimizers.Optimizer:
    """Build the optimizer, with its learning-rate schedule if one is set.

    Args:
        optimizer: the study's optimizer section.

    Returns:
        A fresh Keras optimizer (one per model: optimizers keep state).

    Raises:
        ValueError: if the optimizer or schedule name is unknown.
    """
    learning_rate = _learning_rate(optimizer)
    name = optimizer.name
    if name == "sgd":
        return keras.optimizers.SGD(
            learning_rate=learning_rate,
            momentum=optimizer.momentum,
            nesterov=optimizer.nesterov,
        )
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate)
    if name == "adamw":
        decay = optimizer.weight_decay
        return keras.optimizers.AdamW(
            learning_rate=learning_rate,
            weight_decay=DEFAULT_WEIGHT_DECAY if decay is None else decay,
        )
    if name == "rmsprop":
        return keras.optimizers.RMSprop(
            learning_rate=learning_rate, momentum=optimizer.momentum
        )
    msg = f"optimizer must be sgd, adam, adamw or rmsprop. Got {name!r} instead."
    raise ValueError(msg)


def network_summary(model: keras.Model) -> str:
    """Return a plain-text table of ``model``: layers, shapes and parameters.

    Keras' own ``model.summary`` draws its table for an 80-column terminal
    when captured and cuts the parameter column, so the table is built here
    from the layers instead. Each row adds what a physicist checks first:
    the activation of Dense layers and the rate of dropout layers.

    Args:
        model: a built Keras model.

    Returns:
        The table, without a trailing newline.
    """
    header = ("layer", "type", "output shape", "parameters", "details")
    rows = [header]
    for layer in model.layers:
        rows.append(
            (
                layer.name,
                type(layer).__name__,
                str(tuple(layer.output.shape)),
                f"{layer.count_params():,}",
                _layer_details(layer),
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(4)]

    lines = [f'Model "{model.name}"']
    for row in rows:
        name, kind, shape, params, details = row
        line = (
            f"{name:<{widths[0]}}  {kind:<{widths[1]}}  {shape:<{widths[2]}}  "
            f"{params:>{widths[3]}}  {details}"
        )
        lines.append(line.rstrip())

    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    fixed = sum(math.prod(w.shape) for w in model.non_trainable_weights)
    lines.append(
        f"total parameters: {trainable + fixed:,} (trainable {trainable:,}, "
        f"non-trainable {fixed:,})"
    )
    return "\n".join(lines)


def _layer_details(layer: keras.layers.Layer) -> str:
    config = layer.get_config()
    details = []
    if "activation" in config:
        details.append(f"activation={keras.activations.serialize(layer.activation)}")
    if config.get("kernel_regularizer"):
        details.append(f"l2={layer.kernel_regularizer.l2:g}")
    if "rate" in config:
        details.append(f"rate={config['rate']:g}")
    return ", ".join(details)


def _learning_rate(
    optimizer: Optimizer,
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    schedule = optimizer.schedule
    if schedule is None:
        return optimizer.learning_rate

    schedules = keras.optimizers.schedules
    if schedule.kind == "exponential":
        return schedules.ExponentialDecay(
            initial_learning_rate=optimizer.learning_rate,
            decay_steps=schedule.decay_steps,
            decay_rate=schedule.decay_rate,
        )
    if schedule.kind == "cosine":
        return schedules.CosineDecay(
            initial_learning_rate=optimizer.learning_rate,
            decay_steps=schedule.decay_steps,
        )
    if schedule.kind == "inverse_time":
        return schedules.InverseTimeDecay(
            initial_learning_rate=optimizer.learning_rate,
            decay_steps=schedule.decay_steps,
            decay_rate=schedule.decay_rate,
        )
    msg = (
        "schedule must be exponential, cosine or inverse_time. "
        f"Got {schedule.kind!r} instead."
    )
    raise ValueError(msg)
