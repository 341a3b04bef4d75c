"""`twpipe submit --dry-run` and `twpipe status`: the files written and the points chosen."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tw_pipeline.study.loading import load_study
from tw_pipeline.study.serialize import config_hash

SWEEP = """
sweep:
  grid:
    network.nodes: [4, 8]
    optimizer.learning_rate: [0.01, 0.03]
"""
POINTS = [
    "nodes-4_learning_rate-0.01",
    "nodes-4_learning_rate-0.03",
    "nodes-8_learning_rate-0.01",
    "nodes-8_learning_rate-0.03",
]


@pytest.fixture
def study(tmp_path, minimal_study_text) -> Path:
    path = tmp_path / "analysis" / "study.yaml"
    path.parent.mkdir()
    path.write_text(minimal_study_text + SWEEP)
    return path


def runs_of(study: Path) -> Path:
    return study.parent / "runs" / "tw-test"


def mark_finished(study: Path, point: str) -> None:
    """Leave the folder a finished run leaves: a metrics file with the point's hash."""
    _, point_study = load_study(study).point(point)
    folder = runs_of(study) / point
    folder.mkdir(parents=True, exist_ok=True)
    metrics = {"config_hash": config_hash(point_study), "aggregate": {"test_auc_mean": 0.71234}}
    (folder / "metrics.json").write_text(json.dumps(metrics))


def mark_failed(study: Path, point: str, summary: str) -> None:
    folder = runs_of(study) / point
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "provenance.json").write_text(json.dumps({"started": "t", "host": "node7"}))
    (folder / "failed.json").write_text(json.dumps(
        {"error": f"ValueError: {summary}\nmore", "summary": summary}
    ))


def mark_running(study: Path, point: str) -> None:
    folder = runs_of(study) / point
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "provenance.json").write_text(
        json.dumps({"started": "2025-01-01T10:00:00+00:00", "host": "node3"})
    )


def queued(submission: Path) -> list[str]:
    return [Path(line).stem for line in (submission / "queue.txt").read_text().splitlines()]


def test_htcondor_dry_run_writes_a_complete_submit_description(study, twpipe):
    result = twpipe(
        "submit", study, "--to", "htcondor", "--dry-run", "--flavour", "longlunch",
        "--memory", "3GB", "--cpus", "2", "--max-running", "2",
        "--set", 'batch.htcondor_commands=["+AccountingGroup = \\"group_u_x\\""]',
    )

    assert result.code == 0, result.stderr
    folder = runs_of(study) / "batch" / "submit-001"
    assert result.stdout.strip() == str(folder / "sweep.sub")
    text = (folder / "sweep.sub").read_text()
    commands = dict(
        (part.strip() for part in line.split("=", 1))
        for line in text.splitlines() if line and not line.startswith("#") and "=" in line
    )
    assert commands["executable"] == str(folder / "run-point.sh")
    assert commands["arguments"] == "$(point)"
    assert commands["initialdir"] == str(folder)
    assert commands["output"] == "logs/$(ClusterId).$(ProcId).out"
    assert commands["error"] == "logs/$(ClusterId).$(ProcId).err"
    assert commands["log"] == "logs/jobs.log"
    assert commands["request_cpus"] == "2"
    assert commands["request_memory"] == "3072MB"
    assert commands["+JobFlavour"] == '"longlunch"'
    assert commands["max_materialize"] == "2"
    assert commands["+AccountingGroup"] == '"group_u_x"'
    assert "request_disk" not in commands and "+MaxRuntime" not in commands
    assert text.rstrip().endswith("queue point from queue.txt")
    assert queued(folder) == POINTS
    assert (folder / "logs").is_dir()
    assert "dry run: nothing submitted" in result.stderr
    record = json.loads((folder / "submission.json").read_text())
    assert record["job_id"] is None and record["points"] == POINTS


def test_every_queued_point_file_is_a_study_of_its_own(study, twpipe):
    twpipe("submit", study, "--to", "htcondor", "--dry-run")
    queue = runs_of(study) / "batch" / "submit-001" / "queue.txt"

    for line in queue.read_text().splitlines():
        point_file = load_study(line)
        (_, point_study), = point_file.points
        assert point_study.point == Path(line).stem
        # The point runs into the same folder as the study it came from.
        assert point_study.output.dir == study.parent / "runs"


def test_slurm_dry_run_writes_an_array_job(study, twpipe):
    result = twpipe(
        "submit", study, "--to", "slurm", "--dry-run", "--time", "1-02:00:00",
        "--partition", "short", "--max-running", "3",
        "--set", "batch.slurm_options=[--account=atlas]", "--set", "batch.disk=10GB",
    )

    assert result.code == 0, result.stderr
    folder = runs_of(study) / "batch" / "submit-001"
    text = (folder / "sweep.sbatch").read_text()
    options = re.findall(r"^#SBATCH (\S+)$", text, flags=re.MULTILINE)
    assert options == [
        "--job-name=twpipe-tw-test",
        "--array=0-3%3",
        "--ntasks=1",
        "--cpus-per-task=1",
        "--mem=2048M",
        f"--chdir={folder}",
        f"--output={folder}/logs/%A_%a.out",
        f"--error={folder}/logs/%A_%a.err",
        "--time=1-02:00:00",
        "--partition=short",
        "--tmp=10240M",
        "--account=atlas",
    ]
    assert text.startswith("#!/bin/bash\n")


def test_slurm_task_picks_its_line_of_the_queue(study, twpipe, tmp_path):
    twpipe("submit", study, "--to", "slurm", "--dry-run")
    folder = runs_of(study) / "batch" / "submit-001"
    script = (folder / "sweep.sbatch").read_text()
    # Run the script's body as Slurm would, with a stand-in wrapper that
    # prints the point it was given.
    fake = tmp_path / "echo-point.sh"
    fake.write_text("#!/bin/bash\necho \"$1\"\n")
    fake.chmod(0o755)
    body = script.replace(shlex.quote(str(folder / "run-point.sh")), str(fake))

    seen = []
    for task in range(4):
        done = subprocess.run(["bash", "-c", body], capture_output=True, text=True,
                              env={**os.environ, "SLURM_ARRAY_TASK_ID": str(task)}, check=True)
        seen.append(Path(done.stdout.strip()).stem)
    beyond = subprocess.run(["bash", "-c", body], capture_output=True, text=True,
                            env={**os.environ, "SLURM_ARRAY_TASK_ID": "4"})

    assert seen == POINTS
    assert beyond.returncode == 2 and "no point on line 5" in beyond.stderr


def test_wrapper_runs_twpipe_with_this_interpreter_and_the_job_threads(study, twpipe):
    twpipe("submit", study, "--to", "slurm", "--dry-run", "--cpus", "4")
    wrapper = runs_of(study) / "batch" / "submit-001" / "run-point.sh"
    text = wrapper.read_text()

    assert os.access(wrapper, os.X_OK)
    assert f'exec {shlex.quote(str(Path(sys.executable).absolute()))} -m tw_pipeline run "$1"' in text
    assert "export OMP_NUM_THREADS=4" in text and "export TF_NUM_INTRAOP_THREADS=4" in text
    usage = subprocess.run([str(wrapper)], capture_output=True, text=True)
    assert usage.returncode == 2 and "usage" in usage.stderr


def test_wrapper_runs_in_the_container_it_was_submitted_from(study, twpipe, monkeypatch):
    monkeypatch.setenv("APPTAINER_CONTAINER", "/cvmfs/unpacked.cern.ch/some/image:tag")
    monkeypatch.setenv("APPTAINER_BIND", "/eos,/afs")

    twpipe("submit", study, "--to", "htcondor", "--dry-run")
    text = (runs_of(study) / "batch" / "submit-001" / "run-point.sh").read_text()

    assert "exec apptainer exec /cvmfs/unpacked.cern.ch/some/image:tag " in text
    assert "export APPTAINER_BIND=/eos,/afs" in text


def test_only_unfinished_points_are_submitted(study, twpipe):
    mark_finished(study, POINTS[0])
    mark_failed(study, POINTS[1], "fold 1 is empty")
    mark_running(study, POINTS[2])

    result = twpipe("submit", study, "--to", "slurm", "--dry-run")

    assert result.code == 0, result.stderr
    folder = runs_of(study) / "batch" / "submit-001"
    assert queued(folder) == [POINTS[1], POINTS[3]]
    assert "--array=0-1" in (folder / "sweep.sbatch").read_text()
    assert "1 point(s) started and have not finished" in result.stderr


def test_retry_failed_submits_the_failed_points_only(study, twpipe):
    twpipe("submit", study, "--to", "htcondor", "--dry-run")
    (runs_of(study) / "batch" / "submit-001" / "submission.json").write_text(
        json.dumps({"submitted": "2025-01-01T10:00:00+00:00", "job_id": "41"})
    )
    mark_failed(study, POINTS[3], "out of memory")

    result = twpipe("submit", study, "--to", "htcondor", "--dry-run", "--retry-failed")

    assert result.code == 0, result.stderr
    # The earlier, submitted folder is left as its jobs may still read it.
    assert queued(runs_of(study) / "batch" / "submit-001") == POINTS
    assert queued(runs_of(study) / "batch" / "submit-002") == [POINTS[3]]


def test_nothing_left_to_submit_writes_nothing(study, twpipe):
    for point in POINTS:
        mark_finished(study, point)

    result = twpipe("submit", study, "--to", "slurm")

    assert result.code == 0, result.stderr
    assert result.stdout == ""
    assert "nothing to submit: 4 finished" in result.stderr
    assert not list((runs_of(study) / "batch").glob("submit-*"))


def test_changed_config_of_a_finished_point_is_refused_before_writing(study, twpipe):
    mark_finished(study, POINTS[0])

    result = twpipe("submit", study, "--to", "slurm", "--dry-run", "--set", "training.epochs=9")

    assert result.code == 2
    assert "different configuration" in result.stderr
    assert not (runs_of(study) / "batch").exists()


def test_batch_settings_do_not_make_finished_points_stale(study, twpipe):
    mark_finished(study, POINTS[0])

    result = twpipe("submit", study, "--to", "slurm", "--dry-run", "--memory", "8GB")

    assert result.code == 0, result.stderr
    assert POINTS[0] not in queued(runs_of(study) / "batch" / "submit-001")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--to", "pbs"], "--to: found 'pbs'; expected htcondor or slurm"),
        (["--to", "slurm", "--memory", "lots"], "batch.memory: 'lots' is not a size"),
        (["--to", "slurm", "--time", "90"], "batch.time: '90' is not a duration"),
        (["--to", "htcondor", "--flavour", "longlunh"], "batch.job_flavour: found 'longlunh'"),
        (["--to", "slurm", "--set", "batch.slurm_options=[--array=1-3]"],
         "'--array=1-3': twpipe sets this option itself"),
        (["--to", "htcondor", "--set", "batch.htcondor_commands=[queue 5]"],
         "'queue 5' is not one submit command"),
    ],
)
def test_bad_batch_settings_exit_2_with_the_key(study, twpipe, args, message):
    result = twpipe("submit", study, "--dry-run", *args)

    assert result.code == 2
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_submitting_without_the_batch_system_says_so(study, twpipe, monkeypatch):
    monkeypatch.setenv("PATH", str(study.parent))

    result = twpipe("submit", study, "--to", "htcondor")

    assert result.code == 2
    assert "condor_submit: command not found" in result.stderr
    assert "--dry-run" in result.stderr


def test_status_lists_each_point_from_the_folders(study, twpipe):
    twpipe("submit", study, "--to", "slurm", "--dry-run")
    mark_finished(study, POINTS[0])
    mark_failed(study, POINTS[1], "fold 1 is empty")
    mark_running(study, POINTS[2])

    result = twpipe("status", runs_of(study))

    assert result.code == 0, result.stderr
    rows = [line.split(None, 1) for line in result.stdout.splitlines()[1:]]
    assert [row[0] for row in rows] == POINTS
    states = dict(rows)
    assert states[POINTS[0]].split() == ["finished", "test", "AUC", "0.7123"]
    assert states[POINTS[1]].split(None, 1) == ["failed", "fold 1 is empty"]
    assert "running" in states[POINTS[2]] and "on node3" in states[POINTS[2]]
    assert states[POINTS[3]].strip() == "not started"
    assert "1 finished, 1 failed, 1 running, 1 not started" in result.stderr


def test_status_of_a_missing_folder_is_bad_input(tmp_path, twpipe):
    result = twpipe("status", tmp_path / "nowhere")

    assert result.code == 2 and "no such folder" in result.stderr
