"""The documentation site builds cleanly and its reference pages are current.

The site is built with every Sphinx warning an error, so a link to a page,
heading or file that does not exist fails here, as does a page left out of
the navigation. The command-line reference must equal what the commands
print; the study-file reference is checked in test_study_reference.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

from tw_pipeline.cli.reference import cli_reference, command_names

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"


def build_site(source: Path, out: Path) -> subprocess.CompletedProcess:
    """Build the HTML site as `make docs` does, from scratch, and return the result."""
    missing = [name for name in ("sphinx", "myst_parser") if not find_spec(name)]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: pip install -e '.[docs]'")
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-n",
         "-q", "-E", str(source), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_site_builds_without_a_warning(tmp_path):
    result = build_site(DOCS, tmp_path / "html")

    assert result.returncode == 0, result.stderr
    for page in ("index", "README", "quickstart", "study-file", "cli", "migration"):
        assert (tmp_path / "html" / f"{page}.html").is_file(), page


def test_broken_links_and_pages_outside_the_navigation_fail_the_build(tmp_path):
    # A copy of the docs with one defect of each kind, next to a copy of the
    # configs so that links into ../configs resolve as they do in the project.
    docs = tmp_path / "project" / "docs"
    shutil.copytree(DOCS, docs, ignore=shutil.ignore_patterns("_build"))
    shutil.copytree(ROOT / "configs", tmp_path / "project" / "configs")
    page = docs / "quickstart.md"
    page.write_text(
        page.read_text(encoding="utf-8")
        + "\nSee [a missing page](no-such-page.md), [a missing heading]"
        "(data.md#no-such-heading) and [a missing study](../configs/no-such.yaml).\n",
        encoding="utf-8",
    )
    (docs / "orphan.md").write_text("# A page nobody links\n", encoding="utf-8")

    result = build_site(docs, tmp_path / "html")

    assert result.returncode != 0
    assert "no-such-page.md" in result.stderr
    assert "no-such-heading" in result.stderr
    assert "no-such.yaml" in result.stderr
    assert "orphan" in result.stderr and "toctree" in result.stderr


def test_cli_reference_matches_the_commands():
    written = (DOCS / "cli.md").read_text(encoding="utf-8")

    assert written == cli_reference(), (
        "docs/cli.md is out of date; regenerate it with `make docs` or "
        "`python -m tw_pipeline.cli.reference > docs/cli.md`"
    )


def test_cli_reference_has_every_command_and_option():
    text = cli_reference()

    assert command_names()[:3] == ["validate", "expand", "schema"]
    for name in command_names():
        assert f"## `twpipe {name}`" in text
        assert f"Usage: twpipe {name} " in text, name
    for option in ("--set", "--jobs", "--point", "--dry-run", "--retry-failed",
                   "--score-name", "--chunk-rows", "--format"):
        assert option in text, option


@pytest.mark.parametrize("readme", ["README.md", "docs/README.md"])
def test_readme_links_point_at_files(readme):
    # The READMEs are what the code host shows first; their relative links
    # must work there even for files the site does not contain.
    path = ROOT / readme
    text = path.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if "://" not in t]

    assert local, "no links found"
    for target in local:
        assert (path.parent / target).exists(), f"{readme}: {target}"


def test_every_page_of_the_folder_is_in_the_index():
    index = (DOCS / "README.md").read_text(encoding="utf-8")

    for page in sorted(DOCS.glob("*.md")):
        if page.name != "README.md":
            assert f"]({page.name})" in index, page.name
