"""The study summary: every finished point ranked by its mean test AUC.

The table is the one physicists keep by hand for a grid of settings: one row
per point, the swept values as columns, and the test AUC (mean and spread
over folds) that ranks them. It is written as CSV for further processing and
as Markdown for notes and merge requests, together with one plot of the test
AUC against each swept key. Only finished points (those with a metrics file)
enter, so the summary can be rebuilt at any time from a run folder.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullLocator

from tw_pipeline.errors import InvalidData, Problem
from tw_pipeline.report.html import write_study_page
from tw_pipeline.report.style import (
    FOLD_COLOURS,
    file_stem,
    new_figure,
    plot_style,
    save_figure,
    stamp,
)
from tw_pipeline.run.atomic import write_text

__all__ = [
    "METRIC_COLUMNS",
    "SummaryResult",
    "collect_points",
    "format_value",
    "metric_columns",
    "plot_auc_against",
    "plot_tradeoff",
    "rank_points",
    "summary_markdown",
    "tradeoff_markdown",
    "write_summary",
]

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"

# Table column -> (heading in Markdown, digits shown in Markdown).
METRIC_COLUMNS: dict[str, tuple[str, int]] = {
    "test_auc_mean": ("test AUC mean", 4),
    "test_auc_std": ("test AUC std", 4),
    "train_auc_mean": ("train AUC mean", 4),
    "test_loss_mean": ("test loss mean", 4),
}

# Shown only when a point measured how its response moves under a systematic
# variation (a sample with class: systematic) or across the variable it is
# decorrelated from; see evaluation/systematics.py and decorrelated_variable.py.
DISTANCE_COLUMNS: dict[str, tuple[str, int]] = {
    "distance_ks_mean": ("KS distance mean", 4),
    "distance_jsd_mean": ("JSD distance mean", 4),
}

# Log axis for numeric keys spanning this factor or more, e.g. learning rates.
_LOG_AXIS_RATIO = 20.0


@dataclass(frozen=True)
class SummaryResult:
    """What :func:`write_summary` wrote.

    Attributes:
        rows: the ranked table, best first; each row maps a column to its
            value (``rank``, ``point``, the swept keys, the metric columns and
            ``folds``).
        swept_keys: the swept key paths, in column order.
        markdown: the table as Markdown, ready to print.
        csv_path: the CSV file.
        markdown_path: the Markdown file.
        plot_paths: the plots of test AUC against each swept key.
    """

    rows: list[dict[str, Any]]
    swept_keys: list[str]
    markdown: str
    csv_path: Path
    markdown_path: Path
    plot_paths: list[Path]


def collect_points(study_dir: Path) -> list[dict[str, Any]]:
    """Read the metrics of every finished point of a study.

    A point is finished when ``<study_dir>/<point>/metrics.json`` exists;
    folders without one (points still running, or killed) are left out.
    A metrics file that cannot be read is logged as a warning and left out, so
    one broken point does not hide the others.

    Args:
        study_dir: the study's run folder, holding one folder per point.

    Returns:
        The metrics of each finished point, sorted by point name; ``point`` is
        set from the folder name when the file lacks it.

    Raises:
        InvalidData: if ``study_dir`` is not a folder.
    """
    study_dir = Path(study_dir)
    if not study_dir.is_dir():
        raise InvalidData(
            Problem(
                message="is not a folder; expected a study's run folder holding "
                "one folder per point",
                source=str(study_dir),
                hint="give the folder <output.dir>/<study> of a run",
            )
        )

    points = []
    for folder in sorted(path for path in study_dir.iterdir() if path.is_dir()):
        metrics_path = folder / METRICS_FILE
        if not metrics_path.is_file():
            log.debug("point %s is unfinished (no %s)", folder.name, METRICS_FILE)
            continue
        metrics = _read_metrics(metrics_path)
        if metrics is None:
            continue
        metrics.setdefault("point", folder.name)
        points.append(metrics)
    log.info("found %d finished points in %s", len(points), study_dir)
    return points


def rank_points(
    points: Sequence[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[str]]:
    """Rank points by mean test AUC, best first, as summary-table rows.

    Points without a test AUC come last; ties keep the order of point names.

    Args:
        points: metrics of finished points, as from :func:`collect_points`.

    Returns:
        The rows of the table and the swept keys (in order of first
        appearance), which are columns of the rows.
    """
    swept_keys: list[str] = []
    for point in points:
        for key in point.get("swept") or {}:
            if key not in swept_keys:
                swept_keys.append(key)

    rows = []
    for point in points:
        aggregate = point.get("aggregate") or {}
        swept = point.get("swept") or {}
        row: dict[str, Any] = {"rank": None, "point": str(point["point"])}
        row.update({key: swept.get(key) for key in swept_keys})
        row.update(
            {column: _number(aggregate.get(column)) for column in METRIC_COLUMNS}
        )
        for column in (*DISTANCE_COLUMNS, "distance_ks_std"):
            if column in aggregate:
                row[column] = _number(aggregate.get(column))
        folds = aggregate.get("folds")
        row["folds"] = (
            folds if isinstance(folds, int) else len(point.get("folds") or [])
        )
        rows.append(row)

    def order(row: dict[str, Any]) -> tuple[bool, float, str]:
        auc = row["test_auc_mean"]
        return (auc is None, -(auc or 0.0), row["point"])

    rows.sort(key=order)
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows, swept_keys


def summary_markdown(rows: Sequence[dict[str, Any]], swept_keys: Sequence[str]) -> str:
    """Render ranked rows as a Markdown table.

    Columns are padded to a common width, so the text reads as a table in a
    terminal too; numbers are right-aligned.
    """
    metrics = metric_columns(rows)
    headings = ["rank", "point", *swept_keys]
    headings += [heading for heading, _ in metrics.values()]
    headings.append("folds")
    numeric_keys = [
        all(_is_number(row[key]) or row[key] is None for row in rows)
        for key in swept_keys
    ]
    right = [True, False, *numeric_keys, *(True for _ in metrics), True]

    table = []
    for row in rows:
        cells = [str(row["rank"]), row["point"]]
        cells += [format_value(row[key]) for key in swept_keys]
        for column, (_, digits) in metrics.items():
            value = row.get(column)
            cells.append("" if value is None else f"{value:.{digits}f}")
        cells.append(str(row["folds"]))
        table.append([cell.replace("|", "\\|") for cell in cells])

    widths = [
        max(len(cells[i]) for cells in [headings, *table]) for i in range(len(headings))
    ]
    widths = [max(width, 4) for width in widths]  # room for the "---:" rule

    def line(cells: Sequence[str]) -> str:
        padded = (
            cell.rjust(width) if align else cell.ljust(width)
            for cell, width, align in zip(cells, widths, right, strict=True)
        )
        return "| " + " | ".join(padded) + " |"

    rule = (
        "-" * (width - 1) + ":" if align else "-" * width
        for width, align in zip(widths, right, strict=True)
    )
    lines = [line(headings), "| " + " | ".join(rule) + " |"]
    lines += [line(cells) for cells in table]
    return "\n".join(lines) + "\n"


def metric_columns(rows: Sequence[dict[str, Any]]) -> dict[str, tuple[str, int]]:
    """The metric columns of a table: the AUC and loss, and the systematic
    distances when any point has them."""
    if any(row.get(column) is not None for row in rows for column in DISTANCE_COLUMNS):
        return {**METRIC_COLUMNS, **DISTANCE_COLUMNS}
    return dict(METRIC_COLUMNS)


def tradeoff_markdown(rows: Sequence[dict[str, Any]], swept_keys: Sequence[str]) -> str:
    """The points ordered from the most robust (smallest KS distance) on.

    Empty when no point measured a systematic distance.
    """
    measured = [row for row in rows if row.get("distance_ks_mean") is not None]
    if not measured:
        return ""
    measured.sort(key=lambda row: (row["distance_ks_mean"], row["point"]))
    lines = [
        "| point | " + " | ".join(swept_keys) + (" | " if swept_keys else "")
        + "test AUC | KS distance | JSD distance |",
        "| --- | " + "".join("---: | " for _ in swept_keys) + "---: | ---: | ---: |",
    ]
    for row in measured:
        cells = [row["point"], *(format_value(row[key]) for key in swept_keys)]
        for column in ("test_auc_mean", "distance_ks_mean", "distance_jsd_mean"):
            value = row.get(column)
            cells.append("" if value is None else f"{value:.4f}")
        escaped = (cell.replace("|", "\\|") for cell in cells)
        lines.append("| " + " | ".join(escaped) + " |")
    return "\n".join(lines) + "\n"


@plot_style()
def plot_tradeoff(rows: Sequence[dict[str, Any]], study: str) -> Figure | None:
    """Test AUC against the systematic KS distance, one marker per point.

    Up is more separation, left is more robustness; the points of a sweep
    over lambda trace the price of one in the other. None when no point
    measured the distance.
    """
    measured = [
        row
        for row in rows
        if row.get("distance_ks_mean") is not None
        and row.get("test_auc_mean") is not None
    ]
    if not measured:
        return None
    figure, ax = new_figure()
    for position, row in enumerate(measured):
        ax.errorbar(
            row["distance_ks_mean"], row["test_auc_mean"],
            xerr=row.get("distance_ks_std") or 0.0, yerr=row.get("test_auc_std") or 0.0,
            fmt="o", color=FOLD_COLOURS[0], capsize=3,
        )
        ax.annotate(
            row["point"], (row["distance_ks_mean"], row["test_auc_mean"]),
            textcoords="offset points", xytext=(5, 4 + 6 * (position % 2)), fontsize=7,
        )
    ax.set_xlabel("KS distance of the response (test): systematic or across variable")
    ax.set_ylabel("Test AUC")
    ax.set_title(
        "separation against robustness; mean ± std over folds",
        loc="left", fontsize=8, color="0.35",
    )
    ax.margins(0.15)
    stamp(figure, study, "summary")
    return figure


def write_summary(
    study_dir: Path, *, formats: Sequence[str] = ("png", "pdf")
) -> SummaryResult:
    """Rank the finished points of a study and write the summary files.

    Writes ``summary.csv``, ``summary.md``, ``summary.html`` and, per swept key, a plot
    ``summary_auc_vs_<key>`` of the test AUC (mean ± std over folds) into
    ``study_dir``. Points still running are left out, so calling it again
    later adds them.

    Args:
        study_dir: the study's run folder, holding one folder per point.
        formats: file formats of the plots.

    Returns:
        The ranked table and the files written.

    Raises:
        InvalidData: if ``study_dir`` is not a folder or holds no finished point.
    """
    study_dir = Path(study_dir)
    points = collect_points(study_dir)
    if not points:
        raise InvalidData(
            Problem(
                message=f"no finished point: no folder holds a {METRICS_FILE}",
                source=str(study_dir),
                hint="a point is finished once its training and evaluation "
                "completed; run the study first or wait for its jobs",
            )
        )
    rows, swept_keys = rank_points(points)
    study = str(points[0].get("study") or study_dir.name)

    markdown = summary_markdown(rows, swept_keys)
    csv_path = study_dir / "summary.csv"
    markdown_path = study_dir / "summary.md"
    write_text(csv_path, _csv_text(rows, swept_keys))
    tradeoff = tradeoff_markdown(rows, swept_keys)
    write_text(markdown_path, _markdown_document(study, rows, markdown, tradeoff))

    plot_paths: list[Path] = []
    with plot_style():
        for key in swept_keys:
            figure = plot_auc_against(rows, swept_keys, key, study)
            if figure is not None:
                base = study_dir / f"summary_auc_vs_{file_stem(key)}"
                plot_paths.extend(save_figure(figure, base, formats))
        figure = plot_tradeoff(rows, study)
        if figure is not None:
            base = study_dir / "summary_auc_vs_systematic_distance"
            plot_paths.extend(save_figure(figure, base, formats))

    # The page links to the points' own pages and embeds the PNG plots.
    write_study_page(study_dir, study, rows, swept_keys, points, plot_paths)

    best = rows[0]
    log.info(
        "ranked %d points of %s; best is %s with test AUC %s",
        len(rows),
        study,
        best["point"],
        "n/a" if best["test_auc_mean"] is None else f"{best['test_auc_mean']:.4f}",
    )
    return SummaryResult(
        rows=rows,
        swept_keys=swept_keys,
        markdown=markdown,
        csv_path=csv_path,
        markdown_path=markdown_path,
        plot_paths=plot_paths,
    )


@plot_style()
def plot_auc_against(
    rows: Sequence[dict[str, Any]], swept_keys: Sequence[str], key: str, study: str
) -> Figure | None:
    """Plot test AUC (mean ± std over folds) against one swept key.

    Numbers get a numeric axis (logarithmic when they span a factor of 20 or
    more); anything else, such as names or lists, a categorical one. When
    other keys vary too, every point is a marker of its own, spread sideways
    around its value, and the best point of each value is circled.

    Args:
        rows: ranked table rows, as from :func:`rank_points`.
        swept_keys: all swept keys of the table.
        key: the key on the x axis.
        study: study name for the stamp.

    Returns:
        The figure, or None when no point has both a value and a test AUC.
    """
    usable = [
        row
        for row in rows
        if row.get(key) is not None and row["test_auc_mean"] is not None
    ]
    if not usable:
        log.warning("no point has a value of %s and a test AUC; no plot drawn", key)
        return None
    axis = _SweptAxis.of([row[key] for row in usable])
    others_vary = any(
        len({format_value(row.get(other)) for row in usable}) > 1
        for other in swept_keys
        if other != key
    )
    figure, ax = new_figure()
    colour, best_colour = FOLD_COLOURS[0], FOLD_COLOURS[1]

    # Points sharing a value; rows come ranked, so the best of each value is
    # first and the sideways order is stable.
    groups: dict[float, list[dict[str, Any]]] = {}
    for row in usable:
        groups.setdefault(axis.position(row[key]), []).append(row)
    placed: dict[str, float] = {}
    for x, members in groups.items():
        for row, shifted in zip(members, axis.spread(x, len(members)), strict=True):
            placed[row["point"]] = shifted

    ax.errorbar(
        [placed[row["point"]] for row in usable],
        [row["test_auc_mean"] for row in usable],
        yerr=[row["test_auc_std"] or 0.0 for row in usable],
        fmt="o",
        ms=4 if others_vary else 5,
        capsize=2,
        color=colour,
    )
    # A line suggests a trend, which only an ordered (numeric) axis has.
    tops = [groups[x][0] for x in sorted(groups)]
    top_x = [placed[row["point"]] for row in tops]
    top_y = [row["test_auc_mean"] for row in tops]
    line = "-" if axis.numeric else "none"
    if others_vary:
        ax.plot(
            top_x,
            top_y,
            linestyle=line,
            marker="o",
            ms=10,
            mfc="none",
            color=best_colour,
            lw=1.0,
        )
        handles = [
            Line2D(
                [],
                [],
                color=colour,
                marker="o",
                ms=4,
                linestyle="none",
                label="each point (other keys vary)",
            ),
            Line2D(
                [],
                [],
                color=best_colour,
                marker="o",
                ms=10,
                mfc="none",
                linestyle=line,
                lw=1.0,
                label=f"best point per {key}",
            ),
        ]
    else:
        ax.plot(top_x, top_y, linestyle=line, color=colour, lw=1.2)
        handles = [
            Line2D(
                [],
                [],
                color=colour,
                marker="o",
                ms=5,
                linestyle=line,
                label="test AUC (mean ± std)",
            ),
        ]

    best = usable[0]
    ax.plot(
        placed[best["point"]],
        best["test_auc_mean"],
        "*",
        color=best_colour,
        ms=14,
        zorder=5,
    )
    handles.append(
        Line2D(
            [],
            [],
            color=best_colour,
            marker="*",
            ms=12,
            linestyle="none",
            label=f"best: {best['point']} ({best['test_auc_mean']:.4f})",
        )
    )

    axis.label(ax, key)
    ax.set_ylabel("Test AUC (mean ± std over folds)")
    ax.margins(x=0.1, y=0.3)
    ax.legend(handles=handles, loc="best")
    stamp(figure, study, "summary")
    return figure


@dataclass(frozen=True)
class _SweptAxis:
    """The x axis of a summary plot: numeric (maybe logarithmic) or categorical."""

    numeric: bool
    log: bool
    values: tuple[Any, ...]  # distinct values in axis order

    @classmethod
    def of(cls, values: Sequence[Any]) -> _SweptAxis:
        if all(_is_number(value) for value in values):
            distinct = tuple(sorted({float(value) for value in values}))
            log = distinct[0] > 0 and distinct[-1] / distinct[0] >= _LOG_AXIS_RATIO
            return cls(numeric=True, log=log, values=distinct)
        distinct = tuple(sorted({format_value(value) for value in values}))
        return cls(numeric=False, log=False, values=distinct)

    def position(self, value: Any) -> float:
        """Where ``value`` sits on the axis, in data coordinates."""
        if self.numeric:
            return float(value)
        return float(self.values.index(format_value(value)))

    def spread(self, x: float, count: int) -> list[float]:
        """Spread ``count`` markers at ``x`` sideways, within half a gap."""
        if count == 1:
            return [x]
        # Work where the axis is linear: log10 for a log axis, category index
        # or the number itself otherwise.
        places = [self._linear(self.position(v)) for v in self.values]
        gaps = np.diff(places)
        gap = float(gaps.min()) if gaps.size else max(abs(places[0]), 1.0)
        step = min(0.12 * gap, 0.5 * gap / (count - 1))
        centre = self._linear(x)
        shifts = [(index - (count - 1) / 2) * step for index in range(count)]
        return [self._data(centre + shift) for shift in shifts]

    def label(self, ax: Any, key: str) -> None:
        """Set the axis title, scale and a tick at every swept value."""
        ax.set_xlabel(key)
        if not self.numeric:
            ax.set_xticks(range(len(self.values)), labels=list(self.values))
            ax.xaxis.set_minor_locator(NullLocator())
            if max(len(value) for value in self.values) > 12:
                ax.tick_params(axis="x", labelrotation=20)
            return
        if self.log:
            ax.set_xscale("log")
        if len(self.values) <= 12:
            names = [format_value(_plain(value)) for value in self.values]
            ax.set_xticks(self.values, labels=names)
            ax.xaxis.set_minor_locator(NullLocator())

    def _linear(self, x: float) -> float:
        return float(np.log10(x)) if self.log else x

    def _data(self, u: float) -> float:
        return float(10.0**u) if self.log else u


def format_value(value: Any) -> str:
    """Render a swept value compactly: 0.03, elu, [pT_jet1, met], true."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(item) for item in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{k}: {format_value(v)}" for k, v in value.items())
        return "{" + inner + "}"
    return str(value)


def _read_metrics(path: Path) -> dict[str, Any] | None:
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        log.warning(
            "skipping point %s: cannot read %s (%s)", path.parent.name, path, err
        )
        return None
    if not isinstance(metrics, dict) or not isinstance(metrics.get("aggregate"), dict):
        log.warning(
            "skipping point %s: %s has no 'aggregate' section", path.parent.name, path
        )
        return None
    return metrics


def _number(value: Any) -> float | None:
    if _is_number(value) and np.isfinite(value):
        return float(value)
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _csv_text(rows: Sequence[dict[str, Any]], swept_keys: Sequence[str]) -> str:
    columns = ["rank", "point", *swept_keys, *metric_columns(rows), "folds"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(format_value(row.get(column)) for column in columns)
    return buffer.getvalue()


def _markdown_document(
    study: str, rows: Sequence[dict[str, Any]], table: str, tradeoff: str = ""
) -> str:
    plural = "s" if len(rows) != 1 else ""
    text = (
        f"# {study}: {len(rows)} point{plural} ranked by mean test AUC\n\n"
        f"{table}\n"
        "Mean and standard deviation over the trained folds; the test AUC of a "
        "fold is computed on events its model never saw in training.\n"
    )
    if tradeoff:
        text += (
            "\n## Separation against robustness\n\n"
            "The points from the most robust on: the KS statistic and the "
            "Jensen-Shannon divergence between the test responses of the nominal "
            "sample and its systematic variation, or (against a variable) the "
            "largest between the response in a quartile of the variable and "
            "the response of all events (0: the same response).\n\n"
            f"{tradeoff}"
        )
    return text


def _plain(value: float) -> int | float:
    # Swept integers were made floats for the axis; show them without ".0".
    return int(value) if float(value).is_integer() else value
