"""Study summary: finished points ranked by test AUC, as CSV, Markdown and plots."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from tw_pipeline.errors import InvalidData
from tw_pipeline.report.summary import (
    collect_points,
    format_value,
    plot_auc_against,
    rank_points,
    write_summary,
)

METRIC_HEADER = [
    "test_auc_mean",
    "test_auc_std",
    "train_auc_mean",
    "test_loss_mean",
    "folds",
]


def write_point(
    study_dir: Path,
    name: str,
    swept: dict[str, Any],
    test_auc: float | None,
    *,
    std: float = 0.004,
    folds: int = 3,
) -> None:
    """Write a point folder with a metrics.json as the orchestrator does."""
    fold_records = [
        {
            "fold": fold,
            "train": {"auc": 0.8, "loss": 0.5, "accuracy": 0.7},
            "test": {"auc": test_auc, "loss": 0.55, "accuracy": 0.68},
            "epochs_trained": 10,
            "best_epoch": 7,
            "seconds": 1.0,
        }
        for fold in range(folds)
    ]
    metrics = {
        "study": "tw-2j2b",
        "point": name,
        "swept": swept,
        "folds": fold_records,
        "aggregate": {
            "test_auc_mean": test_auc,
            "test_auc_std": None if test_auc is None else std,
            "train_auc_mean": None if test_auc is None else test_auc + 0.01,
            "train_auc_std": 0.002,
            "test_loss_mean": 0.55,
            "test_loss_std": 0.01,
            "test_accuracy_mean": 0.68,
            "test_accuracy_std": 0.01,
            "folds": folds,
        },
    }
    folder = study_dir / name
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))


@pytest.fixture
def grid(tmp_path) -> Path:
    """A 2 x 2 grid of finished points, one unfinished and one broken point."""
    study_dir = tmp_path / "tw-2j2b"
    aucs = {(30, 0.03): 0.741, (30, 0.05): 0.752, (50, 0.03): 0.763, (50, 0.05): 0.730}
    for (nodes, rate), auc in aucs.items():
        swept = {"network.nodes": nodes, "optimizer.learning_rate": rate}
        write_point(study_dir, f"nodes-{nodes}_lr-{rate}", swept, auc)
    # Still training: a fold folder, no metrics yet.
    (study_dir / "nodes-70_lr-0.03" / "fold-0").mkdir(parents=True)
    return study_dir


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_points_are_ranked_by_mean_test_auc(grid):
    result = write_summary(grid, formats=["png"])

    rows = read_csv(result.csv_path)
    assert [row["point"] for row in rows] == [
        "nodes-50_lr-0.03",
        "nodes-30_lr-0.05",
        "nodes-30_lr-0.03",
        "nodes-50_lr-0.05",
    ]
    assert [row["rank"] for row in rows] == ["1", "2", "3", "4"]
    assert float(rows[0]["test_auc_mean"]) == pytest.approx(0.763)


def test_csv_has_a_column_per_swept_key_then_the_metrics(grid):
    result = write_summary(grid, formats=["png"])

    with result.csv_path.open() as handle:
        header = handle.readline().strip().split(",")
    assert header == [
        "rank",
        "point",
        "network.nodes",
        "optimizer.learning_rate",
        *METRIC_HEADER,
    ]
    best = read_csv(result.csv_path)[0]
    assert (best["network.nodes"], best["optimizer.learning_rate"]) == ("50", "0.03")
    assert best["folds"] == "3"
    assert float(best["train_auc_mean"]) == pytest.approx(0.773)


def test_markdown_lists_the_same_ranking(grid):
    result = write_summary(grid, formats=["png"])

    text = result.markdown_path.read_text()
    assert text.startswith("# tw-2j2b: 4 points ranked by mean test AUC")
    assert result.markdown in text
    lines = result.markdown.splitlines()
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header[:4] == ["rank", "point", "network.nodes", "optimizer.learning_rate"]
    assert "test AUC mean" in header and "test AUC std" in header
    first = [cell.strip() for cell in lines[2].strip("|").split("|")]
    assert first[:4] == ["1", "nodes-50_lr-0.03", "50", "0.03"]
    assert first[header.index("test AUC mean")] == "0.7630"
    assert len(lines) == 2 + 4
    # All lines padded to one width, so the table also reads in a terminal.
    assert len({len(line) for line in lines}) == 1


def test_unfinished_and_unreadable_points_are_left_out(grid, caplog):
    broken = grid / "nodes-90_lr-0.03"
    broken.mkdir()
    (broken / "metrics.json").write_text('{"study": "tw-2j2b", "aggr')
    (grid / "summary.csv").write_text("an old summary, not a point\n")

    with caplog.at_level(logging.WARNING):
        points = collect_points(grid)

    names = [point["point"] for point in points]
    assert "nodes-70_lr-0.03" not in names
    assert "nodes-90_lr-0.03" not in names
    assert len(names) == 4
    assert "skipping point nodes-90_lr-0.03" in caplog.text


def test_metrics_without_aggregate_are_left_out_with_a_warning(tmp_path, caplog):
    write_point(tmp_path, "good", {"network.nodes": 8}, 0.7)
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "metrics.json").write_text("[1, 2]")

    with caplog.at_level(logging.WARNING):
        points = collect_points(tmp_path)

    assert [point["point"] for point in points] == ["good"]
    assert "no 'aggregate' section" in caplog.text


def test_a_rerun_summary_picks_up_newly_finished_points(grid):
    write_summary(grid, formats=["png"])
    write_point(grid, "nodes-70_lr-0.05", {"network.nodes": 70}, 0.799)

    result = write_summary(grid, formats=["png"])

    assert read_csv(result.csv_path)[0]["point"] == "nodes-70_lr-0.05"
    assert len(result.rows) == 5


def test_points_without_test_auc_rank_last(tmp_path):
    write_point(tmp_path, "a-failed-metric", {"network.nodes": 8}, None)
    write_point(tmp_path, "b", {"network.nodes": 16}, 0.61)
    write_point(tmp_path, "c", {"network.nodes": 32}, 0.64)

    rows, _ = rank_points(collect_points(tmp_path))

    assert [row["point"] for row in rows] == ["c", "b", "a-failed-metric"]
    assert rows[-1]["test_auc_mean"] is None


def test_equal_auc_keeps_point_name_order(tmp_path):
    for name in ("zeta", "alpha", "mid"):
        write_point(tmp_path, name, {"network.nodes": 8}, 0.7)

    rows, _ = rank_points(collect_points(tmp_path))

    assert [row["point"] for row in rows] == ["alpha", "mid", "zeta"]


def test_one_plot_per_swept_key_in_every_format(grid):
    result = write_summary(grid, formats=["png", "pdf"])

    names = sorted(path.name for path in result.plot_paths)
    assert names == [
        "summary_auc_vs_network.nodes.pdf",
        "summary_auc_vs_network.nodes.png",
        "summary_auc_vs_optimizer.learning_rate.pdf",
        "summary_auc_vs_optimizer.learning_rate.png",
    ]
    for path in result.plot_paths:
        assert path.parent == grid and path.stat().st_size > 1000


def test_list_and_text_values_are_compact_and_categorical(tmp_path):
    variables = [["mass_lep1jet1", "pT_jet2"], ["mass_lep1jet1", "pT_jet2", "met"]]
    aucs = {("elu", 0): 0.70, ("relu", 0): 0.69, ("elu", 1): 0.74, ("relu", 1): 0.72}
    for (activation, index), auc in aucs.items():
        swept = {"network.activation": activation, "variables": variables[index]}
        write_point(tmp_path, f"{activation}-{index}", swept, auc)

    result = write_summary(tmp_path, formats=["png"])

    best = read_csv(result.csv_path)[0]
    assert best["variables"] == "[mass_lep1jet1, pT_jet2, met]"
    assert best["network.activation"] == "elu"
    figure = plot_auc_against(result.rows, result.swept_keys, "variables", "tw-2j2b")
    ticks = [tick.get_text() for tick in figure.axes[0].get_xticklabels()]
    assert ticks == ["[mass_lep1jet1, pT_jet2, met]", "[mass_lep1jet1, pT_jet2]"]
    assert len(result.plot_paths) == 2


def test_learning_rates_spanning_decades_get_a_log_axis(tmp_path):
    for rate, auc in ((0.001, 0.70), (0.01, 0.73), (0.1, 0.71)):
        write_point(tmp_path, f"lr-{rate}", {"optimizer.learning_rate": rate}, auc)
    rows, keys = rank_points(collect_points(tmp_path))

    ax = plot_auc_against(rows, keys, "optimizer.learning_rate", "s").axes[0]

    assert ax.get_xscale() == "log"
    assert [tick.get_text() for tick in ax.get_xticklabels()] == [
        "0.001",
        "0.01",
        "0.1",
    ]
    # Only this key varies: one marker per value, at the value itself.
    points = ax.containers[0].lines[0]
    assert sorted(points.get_xdata()) == [0.001, 0.01, 0.1]


def test_points_sharing_a_value_are_spread_sideways(grid):
    rows, keys = rank_points(collect_points(grid))

    ax = plot_auc_against(rows, keys, "network.nodes", "tw-2j2b").axes[0]

    xs = sorted(ax.containers[0].lines[0].get_xdata())
    assert len(set(xs)) == 4
    assert xs[0] < 30 < xs[1] < 40 < xs[2] < 50 < xs[3]
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "each point (other keys vary)" in legend
    assert "best: nodes-50_lr-0.03 (0.7630)" in legend


def test_a_study_without_sweep_has_no_swept_columns_and_no_plots(tmp_path):
    write_point(tmp_path, "default", {}, 0.77)

    result = write_summary(tmp_path, formats=["png"])

    with result.csv_path.open() as handle:
        assert handle.readline().strip().split(",") == ["rank", "point", *METRIC_HEADER]
    assert result.plot_paths == []
    assert "1 point ranked" in result.markdown_path.read_text()


def test_no_finished_point_is_an_error_that_says_why(tmp_path):
    (tmp_path / "running" / "fold-0").mkdir(parents=True)

    with pytest.raises(InvalidData, match="no finished point") as caught:
        write_summary(tmp_path)

    assert caught.value.problems[0].source == str(tmp_path)
    assert not (tmp_path / "summary.csv").exists()


def test_a_missing_folder_is_an_error(tmp_path):
    with pytest.raises(InvalidData, match="is not a folder"):
        collect_points(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.03, "0.03"),
        (30, "30"),
        (True, "true"),
        (None, ""),
        (["pT_jet1", "met"], "[pT_jet1, met]"),
        ([16, 8], "[16, 8]"),
        ({"type": "cosine"}, "{type: cosine}"),
    ],
)
def test_swept_values_are_rendered_compactly(value, shown):
    assert format_value(value) == shown


def test_a_bar_in_a_value_does_not_break_the_markdown_table(tmp_path):
    write_point(tmp_path, "p", {"data.selection": "njets == 2 | nbjets == 1"}, 0.7)

    result = write_summary(tmp_path, formats=["png"])

    assert "njets == 2 \\| nbjets == 1" in result.markdown
