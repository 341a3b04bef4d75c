"""A small sweep through a real Slurm cluster: submit, wait, check the results.

Runs where a Slurm cluster answers (CI starts a one-node cluster on
localhost with .ci/slurm.sh); skipped elsewhere, so the suite passes on a
laptop.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

# Four points, a few thousand events and two epochs: a minute at most on
# two cores.
STUDY = """\
study: slurm-sweep
data:
  samples:
    tW: {{class: signal, files: [{data}/tW_DR.h5], key: wt_DR_nominal}}
    ttbar: {{class: background, files: [{data}/ttbar_a.h5, {data}/ttbar_d.h5], key: tt_nominal}}
  weight: weight_nominal
  event_number: eventNumber
variables: [mass_lep1jet1, mass_lep1jet2, pT_jet1]
network: {{hidden_layers: 1, nodes: 4}}
training: {{epochs: 2, batch_size: 256, early_stopping: null}}
folds: {{k: 2}}
report: {{formats: [png], variable_plots: false}}
batch: {{memory: 1GB, time: "00:10:00"}}
sweep:
  grid:
    network.nodes: [2, 4]
    optimizer.learning_rate: [0.01, 0.03]
"""
WAIT_SECONDS = 600


def _cluster_state() -> str | None:
    """Why Slurm cannot be used here, or None if it can."""
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return "no Slurm client (sbatch, sinfo) on PATH"
    try:
        done = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True,
                              text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "sinfo did not answer within 20 s"
    states = set(done.stdout.split())
    if done.returncode != 0 or not states & {"idle", "mix", "alloc"}:
        return f"no Slurm node is up (sinfo: {(done.stdout or done.stderr).strip()!r})"
    return None


_UNAVAILABLE = _cluster_state()


@pytest.mark.skipif(_UNAVAILABLE is not None, reason=f"Slurm: {_UNAVAILABLE}")
def test_a_sweep_runs_on_slurm_and_the_summary_collects_it(tmp_path, twpipe):
    from tw_pipeline.toydata import write_toy_ntuples

    write_toy_ntuples(tmp_path / "data", events=1500, seed=3)
    study = tmp_path / "study.yaml"
    study.write_text(STUDY.format(data=tmp_path / "data"))
    runs = tmp_path / "runs" / "slurm-sweep"

    submitted = twpipe("submit", study, "--to", "slurm")
    assert submitted.code == 0, submitted.stderr
    record = json.loads((runs / "batch" / "submit-001" / "submission.json").read_text())
    job = record["job_id"]
    _wait_for(job)

    status = twpipe("status", runs)
    report = twpipe("report", runs)
    again = twpipe("submit", study, "--to", "slurm")

    logs = sorted((runs / "batch" / "submit-001" / "logs").glob(f"{job}_*.err"))
    assert len(logs) == 4
    assert status.code == 0
    assert "4 finished, 0 failed, 0 running, 0 not started" in status.stderr, (
        status.stdout + "\n".join(log.read_text()[-2000:] for log in logs)
    )
    assert report.code == 0, report.stderr
    with open(runs / "summary.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["point"] for row in rows) == [
        "nodes-2_learning_rate-0.01", "nodes-2_learning_rate-0.03",
        "nodes-4_learning_rate-0.01", "nodes-4_learning_rate-0.03",
    ]
    for row in rows:
        assert 0.0 <= float(row["test_auc_mean"]) <= 1.0
        provenance = json.loads((runs / row["point"] / "provenance.json").read_text())
        assert Path(provenance["study_file"]).parent == runs / "batch" / "points"
    assert again.code == 0 and "nothing to submit: 4 finished" in again.stderr


def _wait_for(job: str) -> None:
    # squeue answers faster than `sbatch --wait`, and the bound is ours.
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        queued = subprocess.run(["squeue", "-h", "-j", job, "-o", "%i %T"],
                                capture_output=True, text=True, check=False)
        if not queued.stdout.strip():
            return
        if time.monotonic() > deadline:
            subprocess.run(["scancel", job], check=False)
            pytest.fail(f"Slurm job {job} still queued after {WAIT_SECONDS} s:\n{queued.stdout}")
        time.sleep(1)
