"""Sphinx settings of the twpipe documentation site.

The pages are plain Markdown (read by MyST-Parser), so they read the same on
the code host as on the built site. `make docs` regenerates the reference
pages and builds the site into docs/_build/html; tests/test_docs.py builds
it with every warning an error, so a link to a missing page, heading or file
fails.
"""

from __future__ import annotations

import shutil
from pathlib import Path

project = "twpipe"
author = "the twpipe authors"
copyright = "the twpipe authors"

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}

# docs/README.md is the index the code host shows for the folder; the site
# uses the same page as its front page.
root_doc = "README"
exclude_patterns = ["_build"]

# Links such as [data](data.md#selections) are checked against the headings
# of the target page (anchors as the code host makes them, down to ###).
myst_heading_anchors = 3

html_theme = "alabaster"
html_title = "twpipe documentation"
html_theme_options = {"page_width": "1100px", "sidebar_width": "240px"}
html_sidebars = {"**": ["about.html", "navigation.html", "searchbox.html"]}
html_show_sourcelink = False

# The navigation of the site, section by section. Each page of docs/ must be
# in it: a page that is not is a warning, and the docs test fails on warnings.
NAV = {
    "Start here": ["quickstart", "migration"],
    "How-to guides": [
        "data",
        "regions",
        "weights",
        "folds",
        "sweeps",
        "batch",
        "apply",
        "export",
        "decorrelation",
    ],
    "Reference": ["study-file", "cli", "running", "evaluation", "performance"],
}


def _add_navigation(app, docname: str, source: list[str]) -> None:
    # The navigation lives here rather than in README.md, so that the page
    # stays free of Sphinx directives on the code host.
    if docname != root_doc:
        return
    for caption, pages in NAV.items():
        entries = "\n".join(pages)
        source[0] += (
            f"\n\n```{{toctree}}\n:caption: {caption}\n:hidden:\n\n{entries}\n```\n"
        )


def _index_page(app, exception: Exception | None) -> None:
    # Web servers look for index.html; the front page is README.html.
    if exception is None and app.builder.format == "html":
        out = Path(app.outdir)
        shutil.copyfile(out / f"{root_doc}.html", out / "index.html")


def setup(app) -> None:
    app.connect("source-read", _add_navigation)
    app.connect("build-finished", _index_page)
