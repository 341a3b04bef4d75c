"""Checks `twpipe apply` makes before any model is loaded (no training needed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tw_pipeline.apply.bundle import read_run
from tw_pipeline.errors import InvalidData


def test_checking_a_run_and_its_inputs_does_not_import_tensorflow():
    code = (
        "import sys\n"
        "import tw_pipeline.apply.bundle, tw_pipeline.apply.plan\n"
        "import tw_pipeline.apply.runner, tw_pipeline.apply.onnx_export\n"
        "heavy = {'keras', 'tensorflow'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_missing_run_folder_is_refused(tmp_path):
    with pytest.raises(InvalidData, match="no such folder"):
        read_run(tmp_path / "nowhere")


def test_a_point_that_has_not_finished_is_refused(tmp_path, minimal_study_text):
    point = tmp_path / "runs" / "tw-test" / "default"
    point.mkdir(parents=True)
    (point / "config.yaml").write_text(minimal_study_text)

    with pytest.raises(InvalidData, match="has not finished") as caught:
        read_run(point)
    assert "twpipe run" in caught.value.problems[0].hint


def test_cli_refuses_a_folder_that_is_not_a_point(tmp_path, twpipe):
    result = twpipe("apply", tmp_path, tmp_path / "in.h5", "-o", tmp_path / "out")

    assert result.code == 2
    assert "is not a point's run folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_progress_bar_is_drawn_only_when_asked_or_on_a_terminal(capsys):
    from tw_pipeline.apply.progress import progress_bar

    # Under pytest stderr is no terminal: no bar.
    with progress_bar(10, "file 1/1") as advance:
        advance(10)
    assert capsys.readouterr().err == ""
