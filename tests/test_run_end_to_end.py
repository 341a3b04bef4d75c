"""A whole study through the command line, on tiny generated ntuples."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

STUDY = """\
study: e2e
data:
  samples:
    tW: {{class: signal, files: [{data}/tW_DR.h5], key: wt_DR_nominal}}
    ttbar: {{class: background, files: [{data}/ttbar_a.h5, {data}/ttbar_d.h5], key: tt_nominal}}
  weight: weight_nominal
  selection: "reg2j2b == 1"
  event_number: eventNumber
variables: [mass_lep1jet1, mass_lep1jet2, deltaR_lep1_jet1, pT_jet1, pT_lep1]
network: {{hidden_layers: 2, nodes: 8, activation: elu}}
optimizer: {{name: adam, learning_rate: 0.01}}
training: {{epochs: {epochs}, batch_size: 128, early_stopping: {{patience: 3}}, seed: 3}}
folds: {{k: 2}}
report: {{formats: [png, pdf], variable_plots: false}}
sweep:
  grid:
    network.nodes: [4, 8]
"""


@pytest.fixture(scope="module")
def toy_data(tmp_path_factory) -> Path:
    from tw_pipeline.toydata import write_toy_ntuples

    folder = tmp_path_factory.mktemp("toy")
    write_toy_ntuples(folder, events=8000, seed=11)
    return folder


def write_study(folder: Path, data: Path, epochs: int = 4) -> Path:
    path = folder / "study.yaml"
    path.write_text(STUDY.format(data=data, epochs=epochs))
    return path


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, toy_data):
    """Run the study once through the CLI; several tests read its folder."""
    folder = tmp_path_factory.mktemp("study")
    study = write_study(folder, toy_data)
    result = subprocess.run(
        [sys.executable, "-m", "tw_pipeline", "run", str(study)],
        capture_output=True, text=True, timeout=600,
    )
    return study, folder / "runs" / "e2e", result


def test_run_succeeds_with_results_on_stdout_and_progress_on_stderr(finished_run):
    _, _, result = finished_run

    assert result.returncode == 0, result.stderr
    assert "| rank |" in result.stdout or "rank" in result.stdout
    assert "epoch" not in result.stdout
    assert "fold 1/2" in result.stderr and "epoch 1/4" in result.stderr


def test_every_artefact_is_written(finished_run):
    _, runs, _ = finished_run

    for point in ("nodes-4", "nodes-8"):
        root = runs / point
        for name in ("config.yaml", "provenance.json", "metrics.json", "network.txt"):
            assert (root / name).is_file(), name
        for fold in (0, 1):
            for name in ("model.keras", "scaler.json", "history.csv"):
                assert (root / f"fold-{fold}" / name).stat().st_size > 0
        pngs = list((root / "plots").glob("*.png"))
        pdfs = list((root / "plots").glob("*.pdf"))
        assert len(pngs) >= 4 and len(pdfs) == len(pngs)
        assert not list(root.rglob("*.tmp*")), "temporary files left behind"

    provenance = json.loads((runs / "nodes-4" / "provenance.json").read_text())
    for key in ("config_hash", "data_fingerprint", "versions", "host", "started", "finished"):
        assert provenance[key]
    assert provenance["versions"]["tensorflow"]


def test_metrics_show_a_classifier_that_learned(finished_run):
    _, runs, _ = finished_run

    metrics = json.loads((runs / "nodes-8" / "metrics.json").read_text())

    assert metrics["swept"] == {"network.nodes": 8}
    assert [fold["fold"] for fold in metrics["folds"]] == [0, 1]
    # A gradient-boosted tree reaches about 0.68 on these events.
    assert metrics["aggregate"]["test_auc_mean"] > 0.62
    assert metrics["aggregate"]["test_auc_std"] >= 0
    for fold in metrics["folds"]:
        assert fold["test"]["events"] > 0 and fold["train"]["events"] > fold["test"]["events"] / 2


def test_evaluation_numbers_plots_and_pages_are_written(finished_run):
    _, runs, _ = finished_run
    root = runs / "nodes-8"
    metrics = json.loads((root / "metrics.json").read_text())

    for fold in metrics["folds"]:
        for name in ("signal", "background"):
            assert 0.0 <= fold["overtraining"][name]["ks_pvalue"] <= 1.0
        points = fold["working_points"]
        assert set(points["signal_efficiency"]) == {"0.01", "0.1", "0.3"}
        assert set(points["background_rejection"]) == {"0.5", "0.7", "0.9"}
        assert 0.0 < fold["separation"] < 1.0
        assert fold["asimov_significance"]["value"] > 0
        # Trees reach about the network's AUC on these events.
        assert 0.6 < fold["bdt"]["test"]["auc"] < 0.8
        assert set(fold["permutation_importance"]) == {
            "mass_lep1jet1", "mass_lep1jet2", "deltaR_lep1_jet1", "pT_jet1", "pT_lep1"
        }
    evaluation = metrics["evaluation"]
    assert evaluation["yields"]["source"] == "weights"
    assert evaluation["aggregate"]["bdt_test_auc"]["mean"] is not None
    # The toy ttbar bound on the lepton-jet mass is the strongest input.
    assert evaluation["inputs"]["separation_ranking"][0]["variable"] == "mass_lep1jet2"
    assert evaluation["permutation_ranking"][0]["variable"] == "mass_lep1jet2"
    correlation = evaluation["inputs"]["correlation"]["signal"]
    assert len(correlation) == 5 and correlation[0][0] == 1.0

    plots = {path.stem for path in (root / "plots").glob("*.png")}
    assert {"correlation_signal", "correlation_background", "ranking_separation",
            "ranking_permutation", "efficiency_vs_cut", "significance_vs_cut"} <= plots
    assert (root / "cut_scan.csv").read_text().startswith("cut,signal_efficiency")
    page = (root / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(plots)
    assert "://" not in page  # no external asset (":" is not in base64)
    summary = (runs / "summary.html").read_text()
    for point in ("nodes-4", "nodes-8"):
        assert f"href='{point}/report.html'" in summary


def test_summary_ranks_points_by_test_auc(finished_run):
    _, runs, _ = finished_run

    with open(runs / "summary.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))

    assert {row["point"] for row in rows} == {"nodes-4", "nodes-8"}
    aucs = [float(row["test_auc_mean"]) for row in rows]
    assert aucs == sorted(aucs, reverse=True)
    assert (runs / "summary.md").read_text().count("nodes-") == 2


def test_rerun_skips_finished_points_and_report_rebuilds(finished_run, twpipe):
    study, runs, _ = finished_run
    before = (runs / "nodes-4" / "metrics.json").read_bytes()
    (runs / "summary.csv").unlink()

    rerun = twpipe("run", study)
    report = twpipe("report", runs)

    assert rerun.code == 0
    assert "already finished" in rerun.stderr
    assert (runs / "nodes-4" / "metrics.json").read_bytes() == before
    assert report.code == 0 and "nodes-8" in report.stdout
    assert (runs / "summary.csv").is_file()


def test_a_changed_config_is_not_silently_skipped(finished_run, twpipe):
    study, _, _ = finished_run

    result = twpipe("run", study, "--set", "training.epochs=2")

    assert result.code == 2
    assert "different configuration" in result.stderr and "--force" in result.stderr


def test_killed_run_leaves_nothing_that_looks_finished_and_resumes(tmp_path, toy_data):
    study = write_study(tmp_path, toy_data, epochs=30)
    runs = tmp_path / "runs" / "e2e"
    command = [sys.executable, "-m", "tw_pipeline", "run", str(study)]

    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (runs / "nodes-4" / "fold-0" / "model.keras").exists():
        assert process.poll() is None, "run ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    assert not (runs / "nodes-4" / "metrics.json").exists()
    assert not (runs / "nodes-8" / "metrics.json").exists()

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)

    assert rerun.returncode == 0, rerun.stderr
    for point in ("nodes-4", "nodes-8"):
        metrics = json.loads((runs / point / "metrics.json").read_text())
        assert len(metrics["folds"]) == 2
