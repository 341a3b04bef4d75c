"""A sweep over lambda through the command line, and its failures.

Two points of two folds on tiny toy ntuples with the systematic tW_DS
sample, in parallel processes (so the systematic events also travel through
the dataset store the workers read).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

STUDY = """\
study: decor
data:
  samples:
    tW: {{class: signal, files: [{data}/tW_DR.h5], key: wt_DR_nominal}}
    tW_DS: {{class: systematic, varies: tW, files: [{data}/tW_DS.h5], key: wt_DS_nominal}}
    ttbar: {{class: background, files: [{data}/ttbar_a.h5, {data}/ttbar_d.h5], key: tt_nominal}}
  weight: weight_nominal
  selection: "njets >= 2"
  event_number: eventNumber
variables: [mass_lep1jet1, mass_lep1jet2, pT_jet1, pT_jet2]
network: {{hidden_layers: 1, nodes: 8, activation: elu}}
optimizer: {{name: adam, learning_rate: 0.01}}
training: {{batch_size: 256, seed: 2}}
folds: {{k: 2}}
{adversary}
evaluation: {{bdt: false, permutation_repeats: 0}}
report: {{formats: [png], variable_plots: false, html: true}}
{sweep}
"""

ADVERSARY = """\
adversary:
  sample: tW_DS
  lambda: 1.0
  pretrain: {classifier: 2, adversary: 1}
  iterations: 2
"""


@pytest.fixture(scope="module")
def toy_data(tmp_path_factory) -> Path:
    from tw_pipeline.toydata import write_toy_ntuples

    folder = tmp_path_factory.mktemp("toy")
    write_toy_ntuples(folder, events=1500, seed=5, systematic=True)
    return folder


def write_study(
    folder: Path,
    data: Path,
    adversary: str = ADVERSARY,
    sweep: str = "sweep: {grid: {adversary.lambda: [0.0, 10.0]}}",
) -> Path:
    path = folder / "study.yaml"
    path.write_text(STUDY.format(data=data, adversary=adversary, sweep=sweep))
    return path


def test_sweep_over_lambda_reports_auc_and_distance(tmp_path, toy_data, twpipe):
    study = write_study(tmp_path, toy_data)

    result = twpipe("run", study, "--jobs", "2")

    assert result.code == 0, result.stderr
    assert "KS distance mean" in result.stdout
    runs = tmp_path / "runs" / "decor"
    for point in ("lambda-0.0", "lambda-10.0"):
        metrics = json.loads((runs / point / "metrics.json").read_text())
        aggregate = metrics["aggregate"]
        assert aggregate["distance_sample"] == "tW_DS"
        assert 0 <= aggregate["distance_ks_mean"] <= 1
        assert 0 <= aggregate["distance_jsd_mean"] <= 1
        assert aggregate["test_auc_mean"] > 0.5
        fold = metrics["folds"][0]
        assert set(fold["systematics"]["tW_DS"]) == {"varies", "ks", "ks_pvalue", "jsd"}
        assert fold["epochs_trained"] == 2 + 2 * 1
        for name in ("adversary_losses.png", "systematic_response_tW_DS.png"):
            assert (runs / point / "plots" / name).is_file()
        for name in ("adversary.keras", "adversary_history.csv", "model.keras"):
            assert (runs / point / "fold-0" / name).is_file()
        assert (
            "KS distance, tW_DS vs tW response"
            in (runs / point / "report.html").read_text()
        )
    summary = (runs / "summary.md").read_text()
    assert "## Separation against robustness" in summary
    assert (runs / "summary_auc_vs_systematic_distance.png").is_file()


def test_systematic_sample_without_adversary_gives_the_distance_only(
    tmp_path, toy_data, twpipe
):
    study = write_study(tmp_path, toy_data, adversary="", sweep="")

    result = twpipe("run", study)

    assert result.code == 0, result.stderr
    assert (
        "used for the distance between nominal and varied responses only"
        in result.stderr
    )
    metrics = json.loads((tmp_path / "runs/decor/default/metrics.json").read_text())
    assert metrics["aggregate"]["distance_ks_mean"] is not None
    assert not (tmp_path / "runs/decor/default/fold-0/adversary.keras").exists()
    # The systematic sample is never a class: the scored test events (those
    # of the AUC) are the nominal samples' only.
    scores = np.load(tmp_path / "runs/decor/default/fold-0/test_scores.npz")
    assert scores["sample_names"].tolist() == ["tW", "ttbar"]
    assert set(np.unique(scores["sample_index"])) == {0, 1}


def test_missing_systematic_file_is_bad_input(tmp_path, toy_data, twpipe):
    study = write_study(tmp_path, toy_data)
    text = study.read_text().replace("tW_DS.h5", "tW_DS_missing.h5")
    study.write_text(text)

    result = twpipe("run", study)

    assert result.code == 2
    assert "Traceback" not in result.stderr
    assert "tW_DS_missing.h5" in result.stderr


def test_sweeping_an_unknown_adversary_key_is_refused(tmp_path, toy_data, twpipe):
    study = write_study(
        tmp_path, toy_data, sweep="sweep: {grid: {adversary.lamda: [1, 2]}}"
    )

    result = twpipe("validate", study)

    assert result.code == 2
    assert "Traceback" not in result.stderr
    assert "lambda" in result.stderr


def test_adversary_against_a_variable_through_the_command_line(
    tmp_path, toy_data, twpipe
):
    adversary = (
        "adversary: {variable: deltaR_lep1_jet1, bins: 5, lambda: 2.0, "
        "iterations: 2, pretrain: {classifier: 2, adversary: 2}}"
    )
    study = write_study(tmp_path, toy_data, adversary=adversary, sweep="")

    checked = twpipe("validate", study, "--data")
    result = twpipe("run", study)

    assert checked.code == 0, checked.stderr
    assert "adversary against the variable deltaR_lep1_jet1" in checked.stdout
    assert result.code == 0, result.stderr
    point = tmp_path / "runs/decor/default"
    metrics = json.loads((point / "metrics.json").read_text())
    record = metrics["folds"][0]["decorrelation"]
    assert record["variable"] == "deltaR_lep1_jet1"
    assert record["events"] == "background"
    assert len(record["bins"]) == 4
    assert record["ks"] == max(entry["ks"] for entry in record["bins"])
    assert metrics["aggregate"]["distance_ks_mean"] is not None
    assert "quartiles of deltaR_lep1_jet1" in metrics["aggregate"]["distance_of"]
    assert (point / "plots/response_across_deltaR_lep1_jet1.png").is_file()


def test_missing_decorrelated_column_is_reported_with_its_key(
    tmp_path, toy_data, twpipe
):
    adversary = "adversary: {variable: mass_bb}"
    study = write_study(tmp_path, toy_data, adversary=adversary, sweep="")

    result = twpipe("validate", study, "--data")

    assert result.code == 2
    assert "Traceback" not in result.stderr
    assert "mass_bb" in result.stderr and "adversary.variable" in result.stderr
