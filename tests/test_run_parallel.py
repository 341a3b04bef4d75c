"""Sweep points in parallel processes: shared data, divided threads, contained failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tw_pipeline.run.parallel import _thread_limits, threads_per_job

STUDY = """\
study: par
data:
  samples:
    tW: {{class: signal, files: [{data}/tW_DR.h5], key: wt_DR_nominal}}
    ttbar: {{class: background, files: [{data}/ttbar_a.h5, {data}/ttbar_d.h5], key: tt_nominal}}
  weight: weight_nominal
  event_number: eventNumber
variables: [mass_lep1jet1, mass_lep1jet2, pT_jet1]
network: {{hidden_layers: 1, nodes: 4}}
optimizer: {{name: adam, learning_rate: 0.01}}
training: {{epochs: {epochs}, batch_size: 256, early_stopping: null}}
folds: {{k: 3}}
report: {{formats: [png], variable_plots: false}}
sweep:
  grid:
    {axis}: {values}
"""


@pytest.fixture(scope="module")
def even_event_data(tmp_path_factory) -> Path:
    """Toy ntuples whose event numbers are all even.

    With k=2 every event falls into fold 0, which the study cannot know
    before the data is read: the point fails at run time.
    """
    from tw_pipeline.toydata import write_toy_ntuples

    folder = tmp_path_factory.mktemp("even")
    files = write_toy_ntuples(folder, events=1500, seed=5)
    keys = {"tW_DR.h5": "wt_DR_nominal", "ttbar_a.h5": "tt_nominal", "ttbar_d.h5": "tt_nominal"}
    for path in files.values():
        key = keys[Path(path).name]
        frame = pd.read_hdf(path, key)
        frame["eventNumber"] = frame["eventNumber"] * 2
        frame.to_hdf(path, key=key, mode="w", format="table")
    return folder


def run_cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tw_pipeline", *args],
        capture_output=True, text=True, timeout=timeout,
    )


def test_threads_are_divided_between_jobs_and_never_zero():
    cores = len(os.sched_getaffinity(0))

    assert threads_per_job(1) == cores
    assert threads_per_job(cores) == 1
    assert threads_per_job(cores * 4) == 1


def test_thread_limits_apply_inside_and_are_restored(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)

    with _thread_limits(3):
        inside = (os.environ["OMP_NUM_THREADS"], os.environ["OPENBLAS_NUM_THREADS"],
                  os.environ["TF_NUM_INTEROP_THREADS"])

    assert inside == ("3", "3", "1")
    assert os.environ["OMP_NUM_THREADS"] == "7"
    assert "OPENBLAS_NUM_THREADS" not in os.environ


@pytest.mark.slow
def test_a_failing_point_is_recorded_and_the_others_finish(tmp_path, even_event_data):
    study = tmp_path / "study.yaml"
    study.write_text(STUDY.format(data=even_event_data, epochs=2, axis="folds.k",
                                  values="[3, 2, 5]"))
    runs = tmp_path / "runs" / "par"

    result = run_cli("run", str(study), "--jobs", "2")

    assert result.returncode == 1, result.stderr
    assert "running 3 points in 2 processes" in result.stderr
    # The events were read once, by the parent, for all three points.
    assert result.stderr.count("sample tW (signal)") == 1
    failure = json.loads((runs / "k-2" / "failed.json").read_text())
    assert "fold(s) [1] of k=2 get no background event" in failure["summary"]
    assert "run failed: 1 of 3 point(s) failed: k-2" in result.stderr
    assert "point k-2 failed:" in result.stderr and "fold(s) [1]" in result.stderr
    for point in ("k-3", "k-5"):
        metrics = json.loads((runs / point / "metrics.json").read_text())
        assert len(metrics["folds"]) == int(point[-1])
    assert not (runs / "k-2" / "metrics.json").exists()
    assert "k-3" in result.stdout and "k-5" in result.stdout
    assert not (runs / ".data-store").exists()


def test_a_study_whose_only_point_fails_exits_as_a_failed_run(tmp_path, even_event_data):
    study = tmp_path / "study.yaml"
    study.write_text(STUDY.format(data=even_event_data, epochs=1, axis="folds.k",
                                  values="[2]"))

    result = run_cli("run", str(study))

    # A failed run, not a complaint about the empty summary.
    assert result.returncode == 1, result.stderr
    assert "run failed: 1 of 1 point(s) failed: k-2" in result.stderr
    assert "no finished point" not in result.stderr
    assert (tmp_path / "runs" / "par" / "k-2" / "failed.json").is_file()


@pytest.mark.slow
def test_parallel_results_match_a_serial_run(tmp_path, even_event_data):
    text = STUDY.format(data=even_event_data, epochs=2, axis="network.nodes", values="[2, 3]")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "study.yaml").write_text(text)
    (tmp_path / "b" / "study.yaml").write_text(text)

    serial = run_cli("run", str(tmp_path / "a" / "study.yaml"))
    parallel = run_cli("run", str(tmp_path / "b" / "study.yaml"), "-j", "2")

    assert serial.returncode == 0 and parallel.returncode == 0, parallel.stderr
    for point in ("nodes-2", "nodes-3"):
        a = json.loads((tmp_path / "a" / "runs" / "par" / point / "metrics.json").read_text())
        b = json.loads((tmp_path / "b" / "runs" / "par" / point / "metrics.json").read_text())
        assert a["config_hash"] == b["config_hash"]
        for fold_a, fold_b in zip(a["folds"], b["folds"]):
            assert fold_a["test"]["events"] == fold_b["test"]["events"]
            assert fold_a["test"]["auc"] == pytest.approx(fold_b["test"]["auc"], abs=0.02)


def _workers(parent: int) -> list[int]:
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    found = []
    for child in children:
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command:
            found.append(int(child))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_a_killed_worker_fails_its_points_and_the_rest_still_run(tmp_path, even_event_data):
    study = tmp_path / "study.yaml"
    study.write_text(STUDY.format(data=even_event_data, epochs=40, axis="network.nodes",
                                  values="[2, 3, 4]"))
    runs = tmp_path / "runs" / "par"
    process = subprocess.Popen(
        [sys.executable, "-m", "tw_pipeline", "run", str(study), "-j", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )

    # Kill a worker once a point is training, as the kernel's out-of-memory
    # killer would.
    deadline = time.monotonic() + 300
    while not list(runs.glob("nodes-*/fold-0")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    workers = _workers(process.pid)
    assert workers
    os.kill(workers[0], signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=600)

    assert process.returncode == 1, stderr
    died = [
        point.name for point in runs.glob("nodes-*")
        if (point / "failed.json").exists()
        and "died" in json.loads((point / "failed.json").read_text())["error"]
    ]
    finished = [point.name for point in runs.glob("nodes-*") if (point / "metrics.json").exists()]
    assert died, stderr
    assert sorted(died + finished) == ["nodes-2", "nodes-3", "nodes-4"]
    assert "nodes-4" in finished, "the point that had not started must still run"
