"""The HTML reports: self-contained, readable offline, linked from the study page."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

from tw_pipeline.report.html import point_page, study_page, write_study_page

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources, self.links, self.tags = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if "src" in attrs:
            self.sources.append(attrs["src"])
        if "href" in attrs:
            self.links.append(attrs["href"])


def parse(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    return collector


METRICS = {
    "study": "tw<2j>",
    "point": "nodes-8",
    "swept": {"network.nodes": 8},
    "config_hash": "abc",
    "seconds": 3.0,
    "aggregate": {"test_auc_mean": 0.71, "test_auc_std": 0.01, "folds": 1},
    "folds": [
        {
            "fold": 0,
            "test": {"auc": 0.71},
            "train": {"auc": 0.72},
            "overtraining": {
                "signal": {"ks_pvalue": 0.004},
                "background": {"ks_pvalue": 0.5},
            },
            "bdt": {"test": {"auc": 0.69}},
        }
    ],
    "evaluation": {
        "aggregate": {
            "bdt_test_auc": {"mean": 0.69, "std": 0.0},
            "signal_efficiency_at_0.1": {"mean": 0.31, "std": 0.02},
        },
        "yields": {"signal": 100.0, "background": 2000.0, "source": "study"},
        "inputs": {"separation_ranking": [{"variable": "met", "separation": 0.1}]},
        "permutation_ranking": [{"variable": "met", "mean": 0.05, "std": 0.01}],
    },
}


def test_point_page_embeds_every_png_and_loads_nothing(tmp_path):
    plots = tmp_path / "plots"
    plots.mkdir()
    for name in ("roc", "response", "variable_met"):
        (plots / f"{name}.png").write_bytes(PNG)

    page = point_page(METRICS, plots)
    parsed = parse(page)

    assert len(parsed.sources) == 3
    assert all(src.startswith("data:image/png;base64,") for src in parsed.sources)
    assert base64.b64decode(parsed.sources[0].split(",", 1)[1]) == PNG
    assert (
        parsed.links == [] and "link" not in parsed.tags and "script" not in parsed.tags
    )
    assert not re.search(r"https?://", page)
    # Names are escaped, numbers shown, small KS p-values flagged.
    assert "tw&lt;2j&gt;" in page and "<2j>" not in page
    assert (
        "0.6900" in page and "signal efficiency at 10 % background efficiency" in page
    )
    assert "class='flag'>0.004" in page


def test_study_page_links_only_to_points_with_a_page(tmp_path):
    (tmp_path / "nodes-8").mkdir()
    (tmp_path / "nodes-8" / "report.html").write_text("x")
    rows = [
        {
            "rank": 1,
            "point": "nodes-8",
            "network.nodes": 8,
            "test_auc_mean": 0.71,
            "test_auc_std": 0.01,
            "train_auc_mean": 0.72,
            "folds": 1,
        },
        {
            "rank": 2,
            "point": "nodes-4",
            "network.nodes": 4,
            "test_auc_mean": 0.7,
            "test_auc_std": 0.01,
            "train_auc_mean": 0.7,
            "folds": 1,
        },
    ]
    plot = tmp_path / "summary_auc_vs_network.nodes.png"
    plot.write_bytes(PNG)

    path = write_study_page(tmp_path, "tw", rows, ["network.nodes"], [METRICS], [plot])
    parsed = parse(path.read_text())

    assert parsed.links == ["nodes-8/report.html"]
    assert parsed.sources and parsed.sources[0].startswith("data:image/png;base64,")
    assert "nodes-4" in path.read_text()


def test_study_page_without_plots_is_still_a_page(tmp_path):
    page = study_page("tw", [], [], [], [], tmp_path)
    assert page.startswith("<!DOCTYPE html>") and "0 points" in page
