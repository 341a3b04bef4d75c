"""`twpipe apply` and `twpipe export`: scored copies of HDF5 and ROOT files,
fold-aware and exact, and ONNX models that score like the Keras ones."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import uproot

from tw_pipeline.apply import onnx_export
from tw_pipeline.data import hdf5

pytestmark = [
    pytest.mark.slow,
    # Keras' own conversion of TensorFlow tensors with np.array, which NumPy 2
    # flags as deprecated; it is inside Keras and harmless here.
    pytest.mark.filterwarnings(
        "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
    ),
]

STUDY = """\
study: tw-apply
data:
  samples:
    tW: {{class: signal, files: [{data}/tW_DR.h5], key: wt_DR_nominal}}
    ttbar: {{class: background, files: [{data}/ttbar_a.h5, {data}/ttbar_d.h5], key: tt_nominal}}
  weight: weight_nominal
  selection: "reg2j2b == 1 or reg2j1b == 1"
{event_number}variables: [mass_lep1jet1, mass_lep1jet2, deltaR_lep1_jet1, pT_jet1]
network: {{hidden_layers: 2, nodes: 8, activation: elu}}
training: {{epochs: 2, batch_size: 128}}
folds: {{k: {k}}}
report: {{formats: [png], variable_plots: false}}
"""

FILES = ("tW_DR", "ttbar_a", "ttbar_d")
SCORE = "tw_apply_score"


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    from tw_pipeline.toydata import write_toy_ntuples

    folder = tmp_path_factory.mktemp("toy")
    write_toy_ntuples(folder, events=1500, seed=5)
    return folder


def _run(folder: Path, toy: Path, *, event_number: bool, k: int) -> Path:
    from tw_pipeline.cli.app import main

    line = "  event_number: eventNumber\n" if event_number else ""
    study = folder / "study.yaml"
    study.write_text(STUDY.format(data=toy, event_number=line, k=k))
    assert main(["-q", "run", str(study)]) == 0
    return folder / "runs" / "tw-apply" / "default"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, toy) -> Path:
    """A finished point whose folds come from the event number."""
    return _run(tmp_path_factory.mktemp("study"), toy, event_number=True, k=3)


@pytest.fixture(scope="module")
def mean_run_dir(tmp_path_factory, toy) -> Path:
    """A finished point with seeded folds: applying it averages the models."""
    return _run(tmp_path_factory.mktemp("study-mean"), toy, event_number=False, k=2)


def _digest(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def _test_fold_scores(run_dir: Path) -> pd.Series:
    """The scores the run computed for its test folds, by event number."""
    parts = []
    for fold in range(3):
        stored = np.load(run_dir / f"fold-{fold}" / "test_scores.npz")
        parts.append(pd.Series(stored["score"], index=stored["event_number"]))
    return pd.concat(parts)


def _write_root(frame: pd.DataFrame, path: Path, tree: str) -> None:
    with uproot.recreate(path) as handle:
        out = handle.mktree(
            tree, {c: frame[c].dtype for c in frame.columns}, title="toy"
        )
        half = len(frame) // 2
        out.extend({c: frame[c].to_numpy()[:half] for c in frame.columns})
        out.extend({c: frame[c].to_numpy()[half:] for c in frame.columns})
        handle["hists/cutflow"] = (
            np.array([5.0, 3.0, 1.0]),
            np.array([0.0, 1.0, 2.0, 3.0]),
        )


def test_applying_to_the_training_files_reproduces_the_test_fold_scores_exactly(
    run_dir, toy, tmp_path, twpipe
):
    inputs = [toy / f"{name}.h5" for name in FILES]
    before = [_digest(path) for path in inputs]

    result = twpipe("apply", run_dir, *inputs, "-o", tmp_path, "--chunk-rows", "700")

    assert result.code == 0, result.stderr
    assert result.stdout.split() == [str(tmp_path / f"{name}.h5") for name in FILES]
    assert [_digest(path) for path in inputs] == before
    scored = pd.concat(pd.read_hdf(tmp_path / f"{name}.h5") for name in FILES)
    expected = _test_fold_scores(run_dir)
    # Every event the run tested on (after its selection) is among the scored ones,
    # and its score is the run's own number, to the last bit.
    got = scored.set_index("eventNumber").loc[expected.index, SCORE]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got.to_numpy(np.float64), expected.to_numpy())
    assert len(expected) < len(scored)  # events outside the selection get scores too


def test_hdf5_output_keeps_every_column_and_says_how_it_was_scored(
    run_dir, toy, tmp_path, twpipe
):
    source = toy / "tW_DR.h5"
    assert twpipe("apply", run_dir, source, "-o", tmp_path).code == 0

    original = pd.read_hdf(source)
    scored = pd.read_hdf(tmp_path / "tW_DR.h5")
    assert list(scored.columns) == [*original.columns, SCORE]
    pd.testing.assert_frame_equal(scored[original.columns], original)
    assert (
        hdf5.table_info(tmp_path / "tW_DR.h5", "wt_DR_nominal").layout
        == hdf5.PANDAS_TABLE
    )
    with h5py.File(tmp_path / "tW_DR.h5") as handle:
        rule = handle["wt_DR_nominal"].attrs[f"{SCORE}_fold_rule"]
    assert "eventNumber % 3" in rule


def _write_layout(frame: pd.DataFrame, path: Path, layout: str) -> str:
    """Write ``frame`` in one of the HDF5 layouts; return its key."""
    if layout == hdf5.PANDAS_FIXED:
        frame.to_hdf(path, key="events", format="fixed")
        return "events"
    records = frame.to_records(index=False)
    if layout == hdf5.PYTABLES_TABLE:
        import tables

        with tables.open_file(path, "w") as handle:
            group = handle.create_group("/", "nominal")
            handle.create_table(group, "events", records.astype(records.dtype.descr))
        return "nominal/events"
    with h5py.File(path, "w") as handle:
        handle["notes"] = np.arange(3)
        if layout == hdf5.COMPOUND:
            handle.create_dataset(
                "events", data=records, chunks=True, compression="gzip"
            )
        else:
            group = handle.create_group("events")
            for name in frame.columns:
                group[name] = frame[name].to_numpy()
    return "events"


@pytest.mark.parametrize(
    "layout",
    [hdf5.PANDAS_FIXED, hdf5.PYTABLES_TABLE, hdf5.COMPOUND, hdf5.DATASET_GROUP],
)
def test_every_hdf5_layout_comes_back_in_the_same_layout(
    run_dir, toy, tmp_path, twpipe, layout
):
    frame = pd.read_hdf(toy / "tW_DR.h5").reset_index(drop=True)
    source = tmp_path / "in" / "tW.h5"
    source.parent.mkdir()
    key = _write_layout(frame, source, layout)
    before = _digest(source)

    result = twpipe(
        "apply", run_dir, source, "-o", tmp_path / "out", "--chunk-rows", "400"
    )

    assert result.code == 0, result.stderr
    assert _digest(source) == before
    output = tmp_path / "out" / "tW.h5"
    info = hdf5.table_info(output, key)
    assert info.layout == layout
    if layout == hdf5.DATASET_GROUP:
        # HDF5 lists the datasets of a group by name.
        assert info.names == sorted([*frame.columns, SCORE])
    else:
        assert info.names == [*frame.columns, SCORE]
    columns = hdf5.read_columns(output, key, info.names)
    for name in frame.columns:
        np.testing.assert_array_equal(columns[name], frame[name].to_numpy())
    expected = _test_fold_scores(run_dir)
    events = pd.Series(columns[SCORE], index=columns["eventNumber"])
    shared = expected.index.intersection(events.index)
    assert len(shared) > 100
    np.testing.assert_array_equal(events[shared].to_numpy(np.float64), expected[shared])

    # The libraries that wrote the layout still read it.
    if layout == hdf5.PANDAS_FIXED:
        back = pd.read_hdf(output, key)
        pd.testing.assert_frame_equal(back[frame.columns], frame)
    if layout == hdf5.PYTABLES_TABLE:
        import tables

        with tables.open_file(output) as handle:
            assert handle.get_node("/" + key).colnames[-1] == SCORE
    if layout in (hdf5.COMPOUND, hdf5.DATASET_GROUP):
        with h5py.File(output) as handle:
            np.testing.assert_array_equal(handle["notes"][()], np.arange(3))


def test_root_in_gives_root_out_with_every_branch_and_the_exact_scores(
    run_dir, toy, tmp_path, twpipe
):
    frame = pd.concat(pd.read_hdf(toy / f"{name}.h5") for name in FILES)
    source = tmp_path / "in" / "mixed.root"
    source.parent.mkdir()
    _write_root(frame, source, "nominal")
    before = _digest(source)

    result = twpipe(
        "apply", run_dir, source, "-o", tmp_path / "out", "--chunk-rows", "1000"
    )

    assert result.code == 0, result.stderr
    assert _digest(source) == before
    with uproot.open(tmp_path / "out" / "mixed.root") as handle:
        tree = handle["nominal"]
        assert tree.classname == "TTree"
        assert tree.keys() == [*frame.columns, SCORE]
        branches = tree.arrays(library="np")
        for name in frame.columns:
            np.testing.assert_array_equal(branches[name], frame[name].to_numpy())
        np.testing.assert_array_equal(handle["hists/cutflow"].values(), [5.0, 3.0, 1.0])
        assert "eventNumber % 3" in str(handle[f"{SCORE}_fold_rule"])
    expected = _test_fold_scores(run_dir)
    got = pd.Series(branches[SCORE], index=branches["eventNumber"])[expected.index]
    np.testing.assert_array_equal(got.to_numpy(np.float64), expected.to_numpy())


def test_without_event_numbers_the_score_is_the_mean_of_the_fold_models(
    mean_run_dir, toy, tmp_path, twpipe
):
    import keras

    from tw_pipeline.apply.bundle import read_run
    from tw_pipeline.training.inference import predict

    source = toy / "ttbar_a.h5"
    result = twpipe("apply", mean_run_dir, source, "-o", tmp_path, "--score-name", "nn")

    assert result.code == 0, result.stderr
    assert "mean of the 2 fold models" in result.stderr
    scored = pd.read_hdf(tmp_path / "ttbar_a.h5")
    bundle = read_run(mean_run_dir)
    x = scored[list(bundle.variables)].to_numpy(np.float32)
    by_model = [
        predict(keras.saving.load_model(fold.model), fold.scaler.transform(x))
        for fold in bundle.folds
    ]
    np.testing.assert_allclose(scored["nn"], np.mean(by_model, axis=0), rtol=1e-6)
    with h5py.File(tmp_path / "ttbar_a.h5") as handle:
        assert "mean" in handle["tt_nominal"].attrs["nn_fold_rule"]


def test_a_file_without_a_variable_is_refused_naming_file_key_and_column(
    run_dir, toy, tmp_path, twpipe
):
    frame = pd.read_hdf(toy / "tW_DR.h5").rename(columns={"pT_jet1": "pT_jet_1"})
    source = tmp_path / "renamed.h5"
    frame.to_hdf(source, key="wt_DR_nominal", format="table")

    result = twpipe(
        "apply", run_dir, source, "-o", tmp_path / "out", "--key", "wt_DR_nominal"
    )

    assert result.code == 2
    assert "renamed.h5 [wt_DR_nominal]" in result.stderr
    assert "column 'pT_jet1'" in result.stderr
    assert "did you mean 'pT_jet_1'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "renamed.h5").exists()


def test_a_variable_of_the_wrong_type_is_refused(run_dir, toy, tmp_path, twpipe):
    frame = pd.read_hdf(toy / "tW_DR.h5")
    frame["mass_lep1jet2"] = frame["mass_lep1jet2"].astype(str)
    source = tmp_path / "text.h5"
    frame.to_hdf(source, key="wt_DR_nominal", format="fixed")

    result = twpipe(
        "apply", run_dir, source, "-o", tmp_path / "out", "--key", "wt_DR_nominal"
    )

    assert result.code == 2
    assert "column 'mass_lep1jet2'" in result.stderr
    assert "expected one number or true/false per event" in result.stderr


def test_without_key_a_file_with_no_fitting_table_is_refused(run_dir, tmp_path, twpipe):
    source = tmp_path / "other.root"
    frame = pd.DataFrame({"mass_lep1jet1": np.ones(10, np.float32), "x": np.ones(10)})
    _write_root(frame, source, "nominal")

    result = twpipe("apply", run_dir, source, "-o", tmp_path / "out")

    assert result.code == 2
    assert "branch 'mass_lep1jet2'" in result.stderr
    assert "--key" in result.stderr


def test_outputs_never_replace_inputs_or_existing_files(run_dir, toy, tmp_path, twpipe):
    source = toy / "ttbar_a.h5"
    before = _digest(source)

    onto_input = twpipe("apply", run_dir, source, "-o", toy)
    assert onto_input.code == 2
    assert "would replace an input file" in onto_input.stderr
    assert _digest(source) == before

    assert twpipe("apply", run_dir, source, "-o", tmp_path).code == 0
    again = twpipe("apply", run_dir, source, "-o", tmp_path)
    assert again.code == 2
    assert "--force" in again.stderr
    assert twpipe("apply", run_dir, source, "-o", tmp_path, "--force").code == 0


def test_an_unfinished_run_folder_is_refused(run_dir, toy, tmp_path, twpipe):
    result = twpipe("apply", run_dir.parent, toy / "tW_DR.h5", "-o", tmp_path)

    assert result.code == 2
    assert "give one of its points: default" in result.stderr


def test_a_table_that_already_has_the_score_is_refused(run_dir, toy, tmp_path, twpipe):
    assert twpipe("apply", run_dir, toy / "tW_DR.h5", "-o", tmp_path / "once").code == 0

    result = twpipe(
        "apply", run_dir, tmp_path / "once" / "tW_DR.h5", "-o", tmp_path / "twice"
    )

    assert result.code == 2
    assert f"already has a column called '{SCORE}'" in result.stderr


def test_onnx_models_agree_with_keras_to_1e_5(run_dir, toy, tmp_path, twpipe):
    ort = pytest.importorskip("onnxruntime", reason="the [onnx] extra is not installed")
    pytest.importorskip("tf2onnx", reason="the [onnx] extra is not installed")
    import keras

    from tw_pipeline.apply.bundle import read_run
    from tw_pipeline.training.inference import predict

    run = run_dir
    result = twpipe("export", run, "--format", "onnx", "-o", tmp_path)

    assert result.code == 0, result.stderr
    metadata = json.loads((tmp_path / "metadata.json").read_text())
    bundle = read_run(run)
    assert metadata["input"]["variables"] == list(bundle.variables)
    assert metadata["folds"] == {
        "k": 3,
        "rule": "event-number",
        "event_number": "eventNumber",
        "description": bundle.describe_rule(),
        "models": {"0": "fold-0.onnx", "1": "fold-1.onnx", "2": "fold-2.onnx"},
    }
    assert metadata["config_hash"] == bundle.config_hash

    # Raw values in: the ONNX model does its own preprocessing.
    frame = pd.read_hdf(toy / "tW_DR.h5")
    x = frame[list(bundle.variables)].to_numpy(np.float32)
    for fold in bundle.folds:
        session = ort.InferenceSession(
            str(tmp_path / f"fold-{fold.fold}.onnx"), providers=["CPUExecutionProvider"]
        )
        (onnx_scores,) = session.run(["score"], {"variables": x})
        model = keras.saving.load_model(fold.model, compile=False)
        keras_scores = predict(model, fold.scaler.transform(x))
        assert onnx_scores.shape == (len(frame),)
        np.testing.assert_allclose(onnx_scores, keras_scores, rtol=0, atol=1e-5)


def test_a_missing_extra_is_named_in_the_error(run_dir, tmp_path, twpipe, monkeypatch):
    run = run_dir
    real = onnx_export.importlib.util.find_spec
    monkeypatch.setattr(
        onnx_export.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "tf2onnx" else real(name, *a),
    )

    result = twpipe("export", run, "-o", tmp_path)

    assert result.code == 2
    assert "tf2onnx" in result.stderr
    assert "pip install 'tw-pipeline[onnx]'" in result.stderr
    assert not list(tmp_path.iterdir())


def test_an_unknown_format_is_refused(run_dir, twpipe):
    run = run_dir
    result = twpipe("export", run, "--format", "tflite")

    assert result.code == 2
    assert "unknown export format 'tflite'" in result.stderr
