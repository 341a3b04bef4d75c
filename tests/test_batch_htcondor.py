"""The generated HTCondor submit description, read by HTCondor's own parser.

No HTCondor pool can run here, so the file is checked offline with the
Python bindings (htcondor2, version 25 or later): the queue statement must
yield one item per point, and each job's arguments and output paths must
expand to that point.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

htcondor = pytest.importorskip("htcondor2", reason="needs the htcondor>=25 Python bindings")

SWEEP = """
sweep:
  grid:
    network.nodes: [4, 8, 16]
"""


@pytest.fixture
def submit_file(tmp_path, minimal_study_text, twpipe, monkeypatch) -> Path:
    study = tmp_path / "study.yaml"
    study.write_text(minimal_study_text + SWEEP)
    result = twpipe("submit", study, "--to", "htcondor", "--dry-run",
                    "--flavour", "workday", "--disk", "5GB", "--time", "04:00:00")
    assert result.code == 0, result.stderr
    path = Path(result.stdout.strip())
    # condor_submit reads the queue file relative to where it runs, as do
    # the bindings: submit is run from the submission folder.
    monkeypatch.chdir(path.parent)
    return path


def test_queue_yields_one_item_per_point_file(submit_file):
    description = htcondor.Submit(submit_file.read_text())

    items = list(description.itemdata())

    assert description.getQArgs() == "point from queue.txt"
    assert [Path(item["point"]).name for item in items] == [
        "nodes-4.yaml", "nodes-8.yaml", "nodes-16.yaml",
    ]
    for item in items:
        assert Path(item["point"]).is_file()


def test_each_job_expands_to_its_own_point_and_log_files(submit_file):
    description = htcondor.Submit(submit_file.read_text())
    expanded = []
    for proc, item in enumerate(description.itemdata()):
        job = htcondor.Submit(str(description))
        job.setQArgs("")
        for key, value in item.items():
            job[key] = value
        job["ClusterId"], job["ProcId"] = "77", str(proc)
        expanded.append({key: job.expand(key) for key in ("arguments", "output", "error")})

    assert [Path(job["arguments"]).name for job in expanded] == [
        "nodes-4.yaml", "nodes-8.yaml", "nodes-16.yaml",
    ]
    assert [job["output"] for job in expanded] == [f"logs/77.{i}.out" for i in range(3)]
    assert expanded[2]["error"] == "logs/77.2.err"


def test_resources_and_flavour_are_submit_commands(submit_file):
    description = htcondor.Submit(submit_file.read_text())

    assert description.expand("request_memory") == "2048MB"
    assert description.expand("request_disk") == "5120MB"
    assert description["MY.JobFlavour"] == '"workday"'
    assert description["MY.MaxRuntime"] == "14400"
    executable = description.expand("executable")
    assert os.access(executable, os.X_OK)
