"""Sweep expansion: counts, names, validity and the expanded files."""

from __future__ import annotations

import math
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tw_pipeline.study.loading import load_study
from tw_pipeline.study.models import Sweep
from tw_pipeline.study.sweep import expand_sweep

GRID = {
    "network.hidden_layers": [2, 3],
    "network.nodes": [16, 32, 64],
    "optimizer.learning_rate": [0.03, 0.05],
    "network.activation": ["elu", "relu"],
}


def write_study(folder: Path, text: str, sweep: str = "") -> Path:
    path = folder / "study.yaml"
    path.write_text(text + sweep)
    return path


def test_point_count_is_the_product_of_axis_lengths():
    sweep = Sweep(grid=GRID, zip=[{"training.epochs": [5, 10], "training.seed": [1, 2]}])

    points = expand_sweep(sweep)

    assert len(points) == math.prod(len(v) for v in GRID.values()) * 2


def test_names_are_unique_readable_and_independent_of_key_order():
    shuffled = list(GRID.items())
    random.Random(3).shuffle(shuffled)

    first = expand_sweep(Sweep(grid=GRID))
    second = expand_sweep(Sweep(grid=dict(shuffled)))

    names = [p.name for p in first]
    assert len(set(names)) == len(names)
    assert sorted(names) == sorted(p.name for p in second)
    assert "activation-elu_hidden_layers-2_nodes-16_learning_rate-0.03" in names


def test_zip_axes_vary_together():
    sweep = Sweep(zip={"network.hidden_layers": [2, 4], "network.nodes": [64, 32]})

    overrides = [p.overrides for p in expand_sweep(sweep)]

    assert overrides == [
        {"network.hidden_layers": 2, "network.nodes": 64},
        {"network.hidden_layers": 4, "network.nodes": 32},
    ]


def test_colliding_last_segments_get_longer_names():
    sweep = Sweep(grid={"optimizer.name": ["sgd"], "study_x.name": ["a"]})

    names = [p.name for p in expand_sweep(sweep)]

    assert names == ["optimizer.name-sgd_study_x.name-a"]


def test_list_valued_keys_are_named_by_option(tmp_path, minimal_study_text):
    sweep = "sweep:\n  grid:\n    variables: [[mass_lep1jet1, pT_jet1], [pT_jet1]]\n"
    study_file = load_study(write_study(tmp_path, minimal_study_text, sweep))

    names = {point.name: study.variables for point, study in study_file.points}

    assert names == {
        "variables-set1": ["mass_lep1jet1", "pT_jet1"],
        "variables-set2": ["pT_jet1"],
    }


def test_every_point_is_a_validated_study(tmp_path, minimal_study_text):
    sweep = "sweep:\n  grid:\n    network.nodes: [8, 16]\n    optimizer.momentum: [0.0, 0.5]\n"

    study_file = load_study(write_study(tmp_path, minimal_study_text, sweep))

    assert len(study_file.points) == 4
    for point, study in study_file.points:
        assert study.sweep is None
        assert study.point == point.name
        assert study.network.nodes == point.overrides["network.nodes"]
        assert study.data.samples["tW"].files[0].is_absolute()


def test_relative_paths_resolve_against_the_study_folder(tmp_path, minimal_study_text):
    folder = tmp_path / "configs"
    folder.mkdir()
    study_path = write_study(folder, minimal_study_text)

    _, study = load_study(study_path).points[0]

    assert study.data.samples["tW"].files == [folder / "tW.h5"]
    assert study.output.dir == folder / "runs"


def test_expand_writes_valid_sweep_free_files_and_an_index(
    tmp_path, minimal_study_text, twpipe
):
    sweep = "sweep:\n  grid:\n    network.nodes: [8, 16]\n    network.activation: [elu, tanh]\n"
    study = write_study(tmp_path, minimal_study_text, sweep)
    out = tmp_path / "points"

    result = twpipe("expand", study, "-o", out)

    assert result.code == 0
    listed = (out / "points.txt").read_text().splitlines()
    assert len(listed) == 4
    assert result.stdout.splitlines() == [str(out / name) for name in listed]
    for name in listed:
        data = yaml.safe_load((out / name).read_text())
        assert "sweep" not in data
        assert data["data"]["samples"]["tW"]["files"] == ["../tW.h5"]
        assert twpipe("validate", out / name).code == 0


def test_expanded_point_keeps_its_place_in_the_run_folder(tmp_path, minimal_study_text):
    from tw_pipeline.study.expand import expand_to_folder
    from tw_pipeline.study.serialize import config_hash

    sweep = "sweep:\n  grid:\n    network.nodes: [8, 16]\n"
    study_file = load_study(write_study(tmp_path, minimal_study_text, sweep))
    result = expand_to_folder(study_file, tmp_path / "elsewhere" / "points")

    for (point, original), path in zip(study_file.points, result.files, strict=True):
        (expanded_point, expanded), = load_study(path).points
        assert expanded.point_name == point.name
        assert expanded.output.dir == original.output.dir
        assert config_hash(expanded) == config_hash(original)


def test_expand_is_byte_identical_and_refuses_to_overwrite(
    tmp_path, minimal_study_text, twpipe
):
    sweep = "sweep:\n  grid:\n    network.nodes: [8, 16]\n"
    study = write_study(tmp_path, minimal_study_text, sweep)
    out = tmp_path / "points"
    twpipe("expand", study, "-o", out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    assert twpipe("expand", study, "-o", out).code == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before

    study.write_text(study.read_text().replace("epochs: 5", "epochs: 7"))
    refused = twpipe("expand", study, "-o", out)
    assert refused.code == 2
    assert "--force" in refused.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before

    assert twpipe("expand", study, "-o", out, "--force").code == 0
    assert b"epochs: 7" in (out / "nodes-8.yaml").read_bytes()


def test_invalid_points_are_named_with_their_values(tmp_path, minimal_study_text, twpipe):
    sweep = "sweep:\n  grid:\n    network.dropout: [0.1, 1.5]\n"
    study = write_study(tmp_path, minimal_study_text, sweep)

    result = twpipe("validate", study)

    assert result.code == 2
    assert "sweep point 'dropout-1.5' (network.dropout=1.5)" in result.stderr


def test_set_cannot_fix_a_swept_key(tmp_path, minimal_study_text, twpipe):
    sweep = "sweep:\n  grid:\n    network.nodes: [8, 16]\n"
    study = write_study(tmp_path, minimal_study_text, sweep)

    result = twpipe("validate", study, "--set", "network.nodes=4")

    assert result.code == 2
    assert "this key is swept" in result.stderr


def test_validate_prints_a_one_line_summary(tmp_path, minimal_study_text, twpipe):
    sweep = "sweep:\n  grid:\n    network.nodes: [8, 16]\n    network.dropout: [0.0, 0.2]\n"
    study = write_study(tmp_path, minimal_study_text, sweep)

    result = twpipe("validate", study)

    assert result.code == 0
    assert result.stdout.count("\n") == 1
    line = result.stdout.strip()
    for fragment in ("tw-test", "signal: tW", "background: ttbar", "3 variables",
                     "3 folds", "4 points"):
        assert fragment in line


def test_schema_lists_fields_with_descriptions(twpipe):
    import json

    result = twpipe("schema")

    schema = json.loads(result.stdout)
    sample = schema["$defs"]["Sample"]["properties"]
    assert "class" in sample and "description" in sample["files"]
    assert schema["properties"]["study"]["description"]


def test_activation_choices_exist_in_keras():
    keras = pytest.importorskip("keras")
    from tw_pipeline.study.models import ACTIVATIONS

    for name in ACTIVATIONS:
        assert callable(keras.activations.get(name))


def test_cli_starts_without_tensorflow():
    code = (
        "import sys; import tw_pipeline.cli.app as app; "
        "from tw_pipeline.study.loading import load_study; "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, "
        "sorted(m for m in sys.modules if m.startswith(('tensorflow', 'keras')))"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_help_and_validate_run_as_installed_commands(tmp_path, minimal_study_text):
    study = write_study(tmp_path, minimal_study_text)
    command = [sys.executable, "-m", "tw_pipeline"]

    helped = subprocess.run([*command, "--help"], capture_output=True, text=True)
    checked = subprocess.run([*command, "validate", study], capture_output=True, text=True)
    broken = subprocess.run([*command, "validate", tmp_path / "missing.yaml"],
                            capture_output=True, text=True)

    assert helped.returncode == 0 and "run" in helped.stdout
    assert checked.returncode == 0 and checked.stdout.startswith("study 'tw-test'")
    assert broken.returncode == 2 and broken.stdout == ""
    assert "study file not found" in broken.stderr
