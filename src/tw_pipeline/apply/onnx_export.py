"""``twpipe export --format onnx``: the fold models for C++ inference.

Each fold's network is converted with tf2onnx, with its preprocessing folded
in: the ONNX model takes the raw variables (float32, in the run's order) and
computes ``(x - offsets) / scales`` itself, with the same float32 operations
as training, before the network. Beside the models, ``metadata.json`` lists
the variables, the fold rule and the config hash, and each fold's scaler is
copied for readers that want to check it.

The converters are an optional extra, ``pip install 'tw-pipeline[onnx]'``.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tw_pipeline.apply.bundle import SCALER_FILE, RunBundle, read_run
from tw_pipeline.data.detect import display_path
from tw_pipeline.errors import BadInputError, Problem
from tw_pipeline.run import atomic

__all__ = ["FORMATS", "ExportResult", "MissingExtra", "export_run"]

log = logging.getLogger(__name__)

FORMATS = ("onnx",)

# ONNX operator set of the written models; ONNX Runtime has read it since 1.14.
OPSET = 17

INPUT_NAME = "variables"
OUTPUT_NAME = "score"

_EXTRA_PACKAGES = ("tf2onnx", "onnx")


class MissingExtra(BadInputError):
    """Raised when an optional feature needs packages that are not installed."""

    kind = "missing packages"


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: one model per fold and the metadata file."""

    models: tuple[Path, ...]
    metadata: Path


def export_run(
    run_dir: Path | str,
    output_dir: Path | str | None = None,
    *,
    format: str = "onnx",  # noqa: A002 - the command's own word
) -> ExportResult:
    """Export a finished point's fold models.

    Args:
        run_dir: a finished point's run folder.
        output_dir: where to write; ``<run_dir>/export/onnx`` by default.
        format: the export format; only "onnx".

    Returns:
        The written files.

    Raises:
        InvalidData: when the run folder is not a finished point.
        BadInputError: for an unknown format.
        MissingExtra: when the converters are not installed.
    """
    if format not in FORMATS:
        raise BadInputError(
            Problem(
                message=f"unknown export format {format!r}",
                path="--format",
                hint=f"use one of: {', '.join(FORMATS)}",
            )
        )
    bundle = read_run(run_dir)
    _require_extra()
    target = (
        Path(output_dir) if output_dir is not None else bundle.root / "export" / format
    )
    target.mkdir(parents=True, exist_ok=True)

    import keras  # noqa: PLC0415 - TensorFlow only where inference happens
    import tensorflow as tf  # noqa: PLC0415
    import tf2onnx  # noqa: PLC0415

    models = []
    for files in bundle.folds:
        model = keras.saving.load_model(files.model, compile=False)
        serve = _with_preprocessing(
            tf, model, files.scaler.offsets, files.scaler.scales
        )
        path = target / f"fold-{files.fold}.onnx"
        proto, _ = tf2onnx.convert.from_function(
            serve, input_signature=serve.input_signature, opset=OPSET
        )
        proto.doc_string = (
            f"twpipe fold {files.fold} of k={bundle.k}; input '{INPUT_NAME}': "
            f"{', '.join(bundle.variables)}"
        )
        atomic.write_bytes(path, proto.SerializeToString())
        shutil.copyfile(
            files.model.parent / SCALER_FILE, target / f"fold-{files.fold}.scaler.json"
        )
        models.append(path)
        log.info("fold %d: wrote %s", files.fold, display_path(path))

    metadata = target / "metadata.json"
    atomic.write_json(metadata, _metadata(bundle, models))
    return ExportResult(models=tuple(models), metadata=metadata)


def _require_extra() -> None:
    missing = [
        name for name in _EXTRA_PACKAGES if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise MissingExtra(
            Problem(
                message=(
                    f"ONNX export needs {', '.join(missing)}, which is not installed"
                ),
                hint="install the optional extra: pip install 'tw-pipeline[onnx]' "
                "(tf2onnx, onnx and onnxruntime)",
            )
        )


def _with_preprocessing(tf: Any, model: Any, offsets: Any, scales: Any) -> Any:
    """A TensorFlow function: raw variables in, the network's score out."""
    offsets = np.asarray(offsets, dtype=np.float32)
    scales = np.asarray(scales, dtype=np.float32)
    spec = tf.TensorSpec([None, offsets.size], tf.float32, name=INPUT_NAME)

    # The constants are made inside the function, so they become part of the
    # graph instead of extra inputs of the ONNX model.
    @tf.function(input_signature=[spec])
    def serve(variables: Any) -> dict[str, Any]:
        scaled = (variables - tf.constant(offsets)) / tf.constant(scales)
        return {OUTPUT_NAME: tf.reshape(model(scaled, training=False), [-1])}

    return serve


def _metadata(bundle: RunBundle, models: list[Path]) -> dict[str, Any]:
    return {
        "study": bundle.study.study,
        "point": bundle.study.point_name,
        "config_hash": bundle.config_hash,
        "input": {
            "name": INPUT_NAME,
            "dtype": "float32",
            "shape": ["events", len(bundle.variables)],
            "variables": list(bundle.variables),
            "preprocessing": "included: the model computes (x - offsets) / scales "
            "itself; feed the raw values",
        },
        "output": {"name": OUTPUT_NAME, "dtype": "float32", "shape": ["events"]},
        "folds": {
            "k": bundle.k,
            "rule": bundle.rule,
            "event_number": bundle.event_number,
            "description": bundle.describe_rule(),
            "models": {
                str(fold.fold): path.name
                for fold, path in zip(bundle.folds, models, strict=True)
            },
        },
        "opset": OPSET,
    }
