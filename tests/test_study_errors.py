"""The message a user sees for each defect of a study file is pinned here.

Each file in studies/bad/ has exactly one defect and is named after it; the
.expected file beside it holds the exact text `twpipe validate` prints.
"""

from __future__ import annotations

from pathlib import Path

import pytest

BAD = Path(__file__).parent / "studies" / "bad"
CASES = sorted(path.stem for path in BAD.glob("*.yaml"))


def test_corpus_is_large_enough():
    assert len(CASES) >= 20


@pytest.mark.parametrize("defect", CASES)
def test_bad_study_is_reported_exactly(defect, twpipe, monkeypatch):
    monkeypatch.chdir(BAD)

    result = twpipe("validate", f"{defect}.yaml")

    assert result.code == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr == (BAD / f"{defect}.expected").read_text()


def test_every_problem_is_reported_at_once(tmp_path, minimal_study_text, twpipe):
    text = (
        minimal_study_text.replace("activation: elu", "activation: elux")
        .replace("epochs: 5", "epochs: 0")
        .replace("{k: 3}", "{k: 3, shuffle: true}")
    )
    study = tmp_path / "study.yaml"
    study.write_text(text)

    result = twpipe("validate", study)

    assert result.code == 2
    assert "3 problems" in result.stderr
    for fragment in ("network.activation", "training.epochs", "folds.shuffle"):
        assert fragment in result.stderr


def test_problems_are_listed_in_file_order(tmp_path, minimal_study_text, twpipe):
    text = minimal_study_text.replace("{k: 3}", "{k: 0}").replace(
        "class: signal", "class: signl"
    )
    study = tmp_path / "study.yaml"
    study.write_text(text)

    stderr = twpipe("validate", study).stderr

    assert stderr.index("data.samples.tW.class") < stderr.index("folds.k")


def test_debug_shows_the_traceback(tmp_path, twpipe):
    study = tmp_path / "study.yaml"
    study.write_text("study: [")

    with pytest.raises(Exception, match="YAML syntax error"):
        twpipe("--debug", "validate", study)


def test_missing_study_file_suggests_a_neighbour(tmp_path, minimal_study_text, twpipe):
    (tmp_path / "tw_2j2b.yaml").write_text(minimal_study_text)

    result = twpipe("validate", tmp_path / "tw_2j2b.yml")

    assert result.code == 2
    assert "study file not found" in result.stderr
    assert "did you mean 'tw_2j2b.yaml'?" in result.stderr


def test_set_override_error_names_the_option(twpipe):
    result = twpipe(
        "validate", Path(__file__).parent / "studies" / "valid_minimal.yaml",
        "--set", "network.hidden_layers=0",
    )

    assert result.code == 2
    assert "--set network.hidden_layers=0: network.hidden_layers: found 0" in result.stderr
