"""The plots of the analysis-grade evaluation of a point.

Correlation matrices of the inputs per class as annotated heat maps, the
ranking of the inputs by separation and by permutation importance as bar
charts, and efficiencies, purity and S/sqrt(S+B) against the cut on the
response.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from tw_pipeline.evaluation.analysis import PointEvaluation
from tw_pipeline.evaluation.cut_scan import CutScan
from tw_pipeline.report.plots import PlotLabels, point_formats
from tw_pipeline.report.style import (
    BACKGROUND_COLOUR,
    FOLD_COLOURS,
    SIGNAL_COLOUR,
    new_figure,
    plot_style,
    save_figure,
    stamp,
)
from tw_pipeline.study.models import Study

__all__ = [
    "plot_correlation",
    "plot_cut_scan",
    "plot_ranking",
    "plot_significance_scan",
    "write_evaluation_plots",
]

log = logging.getLogger(__name__)

# Beyond this many variables the numbers in the cells become unreadable.
_MAX_ANNOTATED = 20


def write_evaluation_plots(
    evaluation: PointEvaluation, study: Study, plots_dir: Path
) -> list[Path]:
    """Draw and write the evaluation plots of a point.

    Writes ``correlation_signal``, ``correlation_background``,
    ``ranking_separation``, ``ranking_permutation`` (when computed),
    ``efficiency_vs_cut`` and ``significance_vs_cut`` (when the scan exists).

    Returns:
        Every file written.
    """
    labels = PlotLabels.from_study(study)
    formats = point_formats(study)
    summary = evaluation.summary
    inputs = summary["inputs"]
    figures: dict[str, Figure] = {}

    with plot_style():
        for name, class_label in (
            ("signal", labels.signal),
            ("background", labels.background),
        ):
            matrix = inputs["correlation"].get(name)
            if matrix is not None:
                figures[f"correlation_{name}"] = plot_correlation(
                    matrix, inputs["variables"], labels, class_label
                )
        figures["ranking_separation"] = plot_ranking(
            inputs["separation_ranking"], labels, kind="separation"
        )
        if summary.get("permutation_ranking"):
            figures["ranking_permutation"] = plot_ranking(
                summary["permutation_ranking"], labels, kind="permutation"
            )
        if evaluation.scan is not None:
            yields = summary["yields"]
            figures["efficiency_vs_cut"] = plot_cut_scan(evaluation.scan, labels)
            figures["significance_vs_cut"] = plot_significance_scan(
                evaluation.scan, labels, yields
            )
        written: list[Path] = []
        for name, figure in figures.items():
            written.extend(save_figure(figure, Path(plots_dir) / name, formats))
    log.info("wrote %d evaluation plot files to %s", len(written), plots_dir)
    return written


@plot_style()
def plot_correlation(
    matrix: Sequence[Sequence[float | None]],
    variables: Sequence[str],
    labels: PlotLabels,
    class_label: str,
) -> Figure:
    """Heat map of a linear correlation matrix, each cell annotated in percent.

    Args:
        matrix: correlation coefficients, None where undefined.
        variables: names of rows and columns.
        labels: names for the stamp.
        class_label: which class the matrix belongs to, for the title.

    Returns:
        The figure.
    """
    values = np.array([[np.nan if v is None else v for v in row] for row in matrix])
    size = max(4.8, 0.55 * len(variables) + 2.5)
    figure, ax = new_figure(size=(size + 1.0, size))
    image = ax.imshow(values, cmap="RdBu_r", vmin=-1.0, vmax=1.0)
    figure.colorbar(image, ax=ax, label="Linear correlation (weighted)", shrink=0.8)

    ticks = np.arange(len(variables))
    ax.set_xticks(ticks, labels=list(variables), rotation=45, ha="right")
    ax.set_yticks(ticks, labels=list(variables))
    ax.tick_params(which="minor", bottom=False, left=False, top=False, right=False)
    if len(variables) <= _MAX_ANNOTATED:
        for row in range(len(variables)):
            for column in range(len(variables)):
                value = values[row, column]
                text = "n/a" if np.isnan(value) else f"{100 * value:.0f}"
                # White text on the dark ends of the colour scale.
                colour = "white" if abs(np.nan_to_num(value)) > 0.6 else "black"
                ax.text(
                    column,
                    row,
                    text,
                    ha="center",
                    va="center",
                    fontsize=8,
                    color=colour,
                )
    ax.set_title(f"Correlation in % for {class_label}", loc="left", fontsize=10)
    stamp(figure, labels.study, labels.point)
    return figure


@plot_style()
def plot_ranking(
    entries: Sequence[dict[str, Any]], labels: PlotLabels, *, kind: str
) -> Figure:
    """Horizontal bars ranking the input variables, best at the top.

    Args:
        entries: ``{"variable", "separation"}`` records (kind "separation") or
            ``{"variable", "mean", "std"}`` records (kind "permutation").
        labels: names for the stamp.
        kind: "separation" or "permutation".

    Returns:
        The figure.
    """
    figure, ax = new_figure(size=(6.4, max(3.0, 0.4 * len(entries) + 1.6)))
    names = [entry["variable"] for entry in entries]
    positions = np.arange(len(entries))[::-1]
    if kind == "separation":
        values = [entry["separation"] or 0.0 for entry in entries]
        ax.barh(positions, values, color=FOLD_COLOURS[0])
        ax.set_xlabel("Separation <S²> of signal and background (before training)")
    else:
        values = [entry["mean"] for entry in entries]
        spreads = [entry["std"] for entry in entries]
        ax.barh(positions, values, xerr=spreads, color=FOLD_COLOURS[2], capsize=3)
        ax.axvline(0.0, color="0.3", linewidth=0.8)
        ax.set_xlabel(
            "Drop of test AUC when the variable is shuffled (mean ± std over folds)"
        )
    ax.set_yticks(positions, labels=names)
    ax.tick_params(axis="y", which="minor", left=False, right=False)
    stamp(figure, labels.study, labels.point)
    return figure


@plot_style()
def plot_cut_scan(scan: CutScan, labels: PlotLabels) -> Figure:
    """Signal and background efficiency and purity against the cut on the response.

    Args:
        scan: the cut scan of all test events.
        labels: names for the legend and the stamp.

    Returns:
        The figure.
    """
    figure, ax = new_figure()
    ax.plot(
        scan.cuts,
        scan.signal_efficiency,
        color=SIGNAL_COLOUR,
        label=f"{labels.signal} efficiency",
    )
    ax.plot(
        scan.cuts,
        scan.background_efficiency,
        color=BACKGROUND_COLOUR,
        label=f"{labels.background} efficiency",
    )
    ax.plot(
        scan.cuts, scan.purity, color="0.2", linestyle="--", label="purity S / (S + B)"
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("Cut on the classifier output (events with output ≥ cut pass)")
    ax.set_ylabel("Efficiency, purity")
    ax.set_title(
        "all test events (each event once)", loc="left", fontsize=8, color="0.35"
    )
    ax.legend(loc="center left")
    stamp(figure, labels.study, labels.point)
    return figure


@plot_style()
def plot_significance_scan(
    scan: CutScan, labels: PlotLabels, yields: dict[str, Any]
) -> Figure:
    """S/sqrt(S+B) against the cut on the response, best cut marked.

    Args:
        scan: the cut scan of all test events.
        labels: names for the legend and the stamp.
        yields: the expected events before the cut, as in metrics.json.

    Returns:
        The figure.
    """
    figure, ax = new_figure()
    ax.plot(scan.cuts, scan.significance, color=FOLD_COLOURS[0], label="S / √(S + B)")
    if np.any(np.isfinite(scan.significance)):
        best = int(np.nanargmax(scan.significance))
        ax.plot(
            scan.cuts[best],
            scan.significance[best],
            "*",
            ms=12,
            color=FOLD_COLOURS[1],
            label=f"best: cut {scan.cuts[best]:.3f}, {scan.significance[best]:.3g}",
        )
    source = (
        "from the study" if yields.get("source") == "study" else "sum of event weights"
    )
    ax.set_title(
        f"yields before the cut ({source}): S = {yields['signal']:.4g}, "
        f"B = {yields['background']:.4g}",
        loc="left",
        fontsize=8,
        color="0.35",
    )
    ax.set_xlim(0, 1)
    ax.set_xlabel("Cut on the classifier output (events with output ≥ cut pass)")
    ax.set_ylabel("S / √(S + B)")
    ax.set_ylim(bottom=0)
    ax.legend(loc="best")
    stamp(figure, labels.study, labels.point)
    return figure
