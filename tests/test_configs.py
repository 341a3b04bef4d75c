"""Every example study in configs/ is a valid study.

The examples are what new users copy, so each one must pass
`twpipe validate`. Without --data, validation checks the study file only and
does not open the ntuples, which the examples name but do not ship (the
demo's come from `twpipe toy-data`). Any file added to configs/ is picked up.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CONFIGS_DIR = Path(__file__).parents[1] / "configs"
CONFIGS = sorted([*CONFIGS_DIR.glob("*.yaml"), *CONFIGS_DIR.glob("*.yml")])


def test_the_example_studies_are_there():
    names = {path.name for path in CONFIGS}

    assert {"demo.yaml", "dilepton-2j2b.yaml", "single-lepton.yaml"} <= names


@pytest.mark.parametrize("study", CONFIGS, ids=lambda path: path.name)
def test_example_study_validates(twpipe, study):
    result = twpipe("validate", study)

    assert result.code == 0, result.stderr
    assert result.stdout.startswith("study '"), result.stdout


def test_dilepton_study_has_the_grid_of_the_original_study(twpipe):
    result = twpipe("validate", CONFIGS_DIR / "dilepton-2j2b.yaml")

    # 3 depths x 3 widths x 2 learning rates x 2 activations, 7 variables.
    assert result.code == 0, result.stderr
    assert "7 variables" in result.stdout and "36 points" in result.stdout
