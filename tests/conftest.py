"""Shared fixtures: study files and the command line run in-process."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tw_pipeline.cli.app import main

STUDIES = Path(__file__).parent / "studies"


@dataclass
class CliResult:
    """Exit code and the two output streams of one `twpipe` call."""

    code: int
    stdout: str
    stderr: str


@pytest.fixture
def twpipe(capsys):
    """Run `twpipe ARGS...` in this process and return its result."""

    def invoke(*args: str) -> CliResult:
        capsys.readouterr()
        code = main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return CliResult(code=code, stdout=captured.out, stderr=captured.err)

    return invoke


@pytest.fixture
def minimal_study_text() -> str:
    """A small valid study, as text, for tests to modify."""
    return (STUDIES / "valid_minimal.yaml").read_text()
