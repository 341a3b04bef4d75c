"""Benchmark twpipe's training against a plain, hand-written Keras script.

Generates its own events (2,000,000 by default, 14 input variables and a
weight), then for each network and batch size trains the same fold twice in
the same process:

* twpipe: ``train_fold`` exactly as ``twpipe run`` calls it (validation loss
  every epoch for early stopping, best-epoch bookkeeping, progress lines);
* plain Keras: a ``keras.Sequential`` of the same layers, the same optimizer
  and batch size, ``model.fit`` on the same numpy arrays, with the same
  validation events ("plain+val") and without any ("plain").

Throughput is training events per second of an epoch, best of the epochs
after the first (which includes tracing the graph) over two rounds run in
opposite order. The ratio column is
twpipe against plain+val, the same work; "vs plain" compares with the script
that skips validation altogether. The fraction of peak counts 6 floating-point
operations per weight and event for a training step (forward 2, backward 4)
against numpy's float32 matrix product measured in the same run.

Targets: ratio >= 0.95 everywhere; 10x100 at batch >= 4096 at >= 50% of peak.

Usage: python bench/bench_train.py [--events N] [--epochs E] [--quick]
"""

# ruff: noqa: T201 - a benchmark prints its results

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402

N_VARIABLES = 14
NETWORKS = [(10, 100, "elu"), (10, 30, "elu"), (3, 64, "relu")]
BATCHES = [512, 4096, 32768]
RATIO_TARGET = 0.95
PEAK_TARGET = 0.50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--epochs", type=int, default=3, help="at least 2")
    parser.add_argument(
        "--quick", action="store_true", help="200,000 events, for a first look"
    )
    args = parser.parse_args()
    events = 200_000 if args.quick else args.events
    epochs = max(2, args.epochs)

    logging.getLogger("tw_pipeline").setLevel(logging.WARNING)
    keras.utils.disable_interactive_logging()

    peak = matmul_peak()
    dataset = synthetic_dataset(events)
    print(f"{events:,} events, {N_VARIABLES} variables; {epochs} epochs per run, "
          f"3 folds (the fold trains on 2/3 of the events, 20% of them for validation)")
    print(f"numpy float32 matmul peak: {peak / 1e9:.1f} GFLOP/s")
    print()

    header = (f"{'network':<14}{'batch':>7}{'twpipe ev/s':>13}{'plain+val':>11}"
              f"{'plain':>10}{'ratio':>7}{'vs plain':>9}{'% peak':>8}")
    print(header)
    print("-" * len(header))

    verdicts = []
    for layers, width, activation in NETWORKS:
        for batch in BATCHES:
            row = compare(dataset, layers, width, activation, batch, epochs)
            flops = 6 * weights_of(layers, width) * row["twpipe"]
            share = flops / peak
            ratio = row["twpipe"] / row["plain+val"]
            print(f"{f'{layers}x{width} {activation}':<14}{batch:>7}"
                  f"{row['twpipe']:>13,.0f}{row['plain+val']:>11,.0f}"
                  f"{row['plain']:>10,.0f}{ratio:>7.2f}"
                  f"{row['twpipe'] / row['plain']:>9.2f}{100 * share:>7.0f}%",
                  flush=True)
            verdicts.append(ratio >= RATIO_TARGET)
            if (layers, width) == (10, 100) and batch >= 4096:
                verdicts.append(share >= PEAK_TARGET)

    print()
    print(f"targets: ratio >= {RATIO_TARGET}, 10x100 at batch >= 4096 at >= "
          f"{100 * PEAK_TARGET:.0f}% of peak -> {'met' if all(verdicts) else 'NOT met'}")


def matmul_peak(size: int = 2048, repeats: int = 5) -> float:
    """Best float32 matrix-product rate of numpy on this machine, in FLOP/s."""
    rng = np.random.default_rng(0)
    a = rng.random((size, size), dtype=np.float32)
    b = rng.random((size, size), dtype=np.float32)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * size**3 / best


def weights_of(layers: int, width: int) -> int:
    """Multiply-add weights of the network (biases are negligible)."""
    return N_VARIABLES * width + (layers - 1) * width * width + width


def synthetic_dataset(events: int):  # -> Dataset, imported lazily
    """Two overlapping Gaussian classes with positive and a few negative weights."""
    from tw_pipeline.data.dataset import Dataset

    rng = np.random.default_rng(20251203)
    labels = (rng.random(events) < 0.5).astype(np.int8)
    features = rng.normal(size=(events, N_VARIABLES)).astype(np.float32)
    features[:, :4] += 0.5 * labels[:, None]
    weights = rng.normal(1.0, 0.3, events)
    return Dataset(
        features=features,
        labels=labels,
        weights=weights,
        sample_index=(1 - labels).astype(np.int16),
        event_number=np.arange(events, dtype=np.int64),
        variables=tuple(f"var{i:02d}" for i in range(N_VARIABLES)),
        sample_names=("signal", "background"),
    )


def bench_study(layers: int, width: int, activation: str, batch: int, epochs: int):
    from tw_pipeline.study.models import Study

    return Study.model_validate(
        {
            "study": "bench",
            "data": {
                "samples": {
                    "signal": {"class": "signal", "files": ["signal.h5"]},
                    "background": {"class": "background", "files": ["background.h5"]},
                },
                "event_number": "eventNumber",
            },
            "variables": [f"var{i:02d}" for i in range(N_VARIABLES)],
            "network": {"hidden_layers": layers, "nodes": width,
                        "activation": activation},
            "optimizer": {"name": "adam", "learning_rate": 0.001},
            "training": {"epochs": epochs, "batch_size": batch,
                         "early_stopping": None, "seed": 1},
            "folds": {"k": 3},
        }
    )


def compare(dataset, layers, width, activation, batch, epochs) -> dict[str, float]:
    """Training events per second of twpipe and of the plain script."""
    from tw_pipeline.training.fold_inputs import prepare_fold
    from tw_pipeline.training.folds import assign_folds
    from tw_pipeline.training.train import train_fold

    study = bench_study(layers, width, activation, batch, epochs)
    folds = assign_folds(dataset.labels, 3, 1, event_number=dataset.event_number)
    inputs = prepare_fold(dataset, 0, np.flatnonzero(folds != 0), study)
    fit = (inputs.x(dataset, "fit"), inputs.y(dataset, "fit"), inputs.fit_weights)
    val = (inputs.x(dataset, "val"), inputs.y(dataset, "val"), inputs.val_weights)
    events = fit[0].shape[0]

    def twpipe() -> float:
        with tempfile.TemporaryDirectory(prefix="twpipe-bench-") as folder:
            outcome = train_fold(dataset, 0, folds, study, Path(folder) / "fold-0")
        return outcome.history["seconds"].iloc[1:].min()

    runs = {
        "twpipe": twpipe,
        "plain+val": lambda: plain_keras(fit, val, layers, width, activation, batch,
                                         epochs),
        "plain": lambda: plain_keras(fit, None, layers, width, activation, batch,
                                     epochs),
    }
    # Two rounds in opposite order, best epoch of each: a slow spell of the
    # machine then cannot favour one side.
    best = dict.fromkeys(runs, float("inf"))
    for order in (list(runs), list(reversed(runs))):
        for name in order:
            best[name] = min(best[name], runs[name]())
    return {name: events / seconds for name, seconds in best.items()}


def plain_keras(fit, val, layers, width, activation, batch, epochs) -> float:
    """The ten-line script: best epoch time of a default model.fit."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [keras.Input(shape=(N_VARIABLES,))]
        + [keras.layers.Dense(width, activation=activation) for _ in range(layers)]
        + [keras.layers.Dense(1, activation="sigmoid")]
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001),
                  loss="binary_crossentropy", weighted_metrics=["accuracy"])
    timer = _EpochTimer()
    model.fit(fit[0], fit[1], sample_weight=fit[2], validation_data=val,
              batch_size=batch, epochs=epochs, shuffle=True, verbose=0,
              callbacks=[timer])
    return min(timer.seconds[1:])


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


class _EpochTimer(keras.callbacks.Callback):
    """Wall time of every epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None) -> None:
        self.seconds.append(time.perf_counter() - self._start)


if __name__ == "__main__":
    main()
