"""The plots of one sweep point: ROC, training curves, response, input variables.

Every figure carries axis labels, a legend with the sample names of the study,
and the study and point name in a corner, so that it can be read on a slide
without the run folder next to it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from tw_pipeline.data.dataset import Dataset
from tw_pipeline.evaluation.baseline import BaselineOutcome
from tw_pipeline.evaluation.metrics import weighted_roc
from tw_pipeline.evaluation.outcome import FoldOutcome, Scored
from tw_pipeline.report.style import (
    BACKGROUND_COLOUR,
    FOLD_COLOURS,
    SIGNAL_COLOUR,
    file_stem,
    new_figure,
    plot_style,
    save_figure,
    stamp,
)
from tw_pipeline.study.models import Study

__all__ = [
    "PlotLabels",
    "plot_history",
    "plot_response",
    "plot_roc",
    "plot_variable",
    "point_formats",
    "write_point_plots",
]

log = logging.getLogger(__name__)

RESPONSE_BINS = 40
VARIABLE_BINS = 40
# Integer-valued variables with at most this many values (jet multiplicities,
# flags) get one bin per value instead of a clipped continuous range.
MAX_DISCRETE_VALUES = 25
CLIP_QUANTILES = (0.005, 0.995)
# Enough points for a smooth curve; millions of ROC points would make
# PDFs slow to open without changing what the eye sees.
MAX_CURVE_POINTS = 2000


@dataclass(frozen=True)
class PlotLabels:
    """The names that appear on every plot of a point.

    Attributes:
        study: study name, stamped in the corner.
        point: sweep-point name, stamped next to the study name.
        signal_samples: names of the signal samples as shown, e.g. "tW".
        background_samples: names of the background samples as shown, e.g.
            "ttbar + Wt".
        units: unit of each input variable that has one, from report.units.
    """

    study: str
    point: str
    signal_samples: str
    background_samples: str
    units: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_study(cls, study: Study) -> PlotLabels:
        """Build the labels from the study's name, point and sample names."""
        return cls(
            study=study.study,
            point=study.point_name,
            signal_samples=_sample_names(study, study.signal_samples()),
            background_samples=_sample_names(study, study.background_samples()),
            units=dict(study.report.units),
        )

    @property
    def signal(self) -> str:
        """Legend name of the signal class, e.g. "signal (tW)"."""
        return f"signal ({self.signal_samples})"

    @property
    def background(self) -> str:
        """Legend name of the background class, e.g. "background (ttbar)"."""
        return f"background ({self.background_samples})"


def write_point_plots(
    outcomes: Sequence[FoldOutcome],
    dataset: Dataset | None,
    study: Study,
    plots_dir: Path,
    baselines: Sequence[BaselineOutcome] = (),
) -> list[Path]:
    """Draw and write every plot of one sweep point.

    Writes ``roc``, ``loss``, ``accuracy``, ``response``, ``response_normalised``
    and, when ``study.report.variable_plots`` is on, one ``variable_<name>``
    per input variable, each in every format of ``study.report.formats``.

    Args:
        outcomes: the trained folds of the point.
        dataset: the loaded events, for the input-variable plots; None skips
            them (for example when only fold outcomes are at hand).
        study: the point's study, for names, formats and options.
        plots_dir: folder receiving the files; created when missing.
        baselines: decision-tree baselines of the folds, drawn on the ROC plot.

    Returns:
        Every file written.

    Raises:
        ValueError: if ``outcomes`` is empty.
    """
    if not outcomes:
        msg = "no fold outcomes to plot; train at least one fold first"
        raise ValueError(msg)
    labels = PlotLabels.from_study(study)
    formats = point_formats(study)
    plots_dir = Path(plots_dir)
    written: list[Path] = []

    with plot_style():
        figures = {
            "roc": plot_roc(outcomes, labels, baselines),
            "loss": plot_history(outcomes, labels, "loss"),
            "accuracy": plot_history(outcomes, labels, "accuracy"),
            "response": plot_response(outcomes, labels, normalised=False),
            "response_normalised": plot_response(outcomes, labels, normalised=True),
        }
        for name, figure in figures.items():
            written.extend(save_figure(figure, plots_dir / name, formats))

        if study.report.variable_plots and dataset is not None:
            for name, index in _variable_file_names(dataset.variables).items():
                figure = plot_variable(dataset, index, labels)
                written.extend(save_figure(figure, plots_dir / name, formats))

    log.info("wrote %d plot files to %s", len(written), plots_dir)
    return written


def point_formats(study: Study) -> list[str]:
    """The file formats of a point's plots: the study's, plus PNG for the HTML page."""
    formats = list(study.report.formats)
    if study.report.html and "png" not in formats:
        formats.append("png")
    return formats


@plot_style()
def plot_roc(
    outcomes: Sequence[FoldOutcome],
    labels: PlotLabels,
    baselines: Sequence[BaselineOutcome] = (),
) -> Figure:
    """ROC curves of all folds: signal efficiency against background efficiency.

    Training events are dashed and test events solid, in one colour per fold;
    the test curves of a decision-tree baseline, when given, are dash-dotted.
    The efficiencies are weighted with the true event weights.

    Args:
        outcomes: the trained folds.
        labels: names for the legend and the stamp.
        baselines: the decision-tree baseline of each fold.

    Returns:
        The figure.
    """
    figure, ax = new_figure(size=(5.6, 5.2))
    test_aucs = []

    for index, outcome in enumerate(outcomes):
        colour = FOLD_COLOURS[index % len(FOLD_COLOURS)]
        for part, linestyle in (("train", "--"), ("test", "-")):
            scored: Scored = getattr(outcome, part)
            curve = _roc(scored)
            if curve is None:
                log.warning("no ROC curve for fold %d %s events", outcome.fold, part)
                continue
            bkg_eff, sig_eff = curve
            auc = _auc(outcome, part, bkg_eff, sig_eff)
            if part == "test":
                test_aucs.append(auc)
            x, y = _thin(bkg_eff, sig_eff)
            ax.plot(
                x,
                y,
                linestyle=linestyle,
                color=colour,
                label=f"fold {outcome.fold} {part}, AUC = {auc:.3f}",
            )

    colours = {
        outcome.fold: FOLD_COLOURS[index % len(FOLD_COLOURS)]
        for index, outcome in enumerate(outcomes)
    }
    for baseline in baselines:
        curve = _roc(baseline.test)
        if curve is None:
            continue
        auc = baseline.metrics.get("test", {}).get("auc")
        if auc is None:
            auc = float(np.trapezoid(curve[1], curve[0]))
        x, y = _thin(*curve)
        ax.plot(
            x,
            y,
            linestyle="-.",
            linewidth=1.2,
            color=colours.get(baseline.fold, "0.3"),
            label=f"fold {baseline.fold} BDT test, AUC = {auc:.3f}",
        )

    ax.plot([0, 1], [0, 1], linestyle=":", color="0.5", label="random guess")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"Background efficiency ({labels.background_samples})")
    ax.set_ylabel(f"Signal efficiency ({labels.signal_samples})")
    title = None
    if test_aucs:
        # Sample standard deviation, as in the metrics file.
        spread = float(np.std(test_aucs, ddof=1)) if len(test_aucs) > 1 else 0.0
        title = (
            f"test AUC {np.mean(test_aucs):.3f} ± {spread:.3f} "
            f"over {len(test_aucs)} fold{'s' if len(test_aucs) != 1 else ''}"
        )
    # The curves bend towards the top-left corner; the lower right is free.
    many = len(outcomes) * (3 if baselines else 2) > 10
    ax.legend(loc="lower right", title=title, ncols=2 if many else 1)
    stamp(figure, labels.study, labels.point)
    return figure


@plot_style()
def plot_history(
    outcomes: Sequence[FoldOutcome], labels: PlotLabels, metric: str
) -> Figure:
    """Training and validation ``metric`` per epoch, one colour per fold.

    Args:
        outcomes: the trained folds.
        labels: names for the stamp.
        metric: "loss" or "accuracy", a column of the fold histories (its
            validation twin is ``val_<metric>``).

    Returns:
        The figure.
    """
    figure, ax = new_figure()
    drawn = False

    for index, outcome in enumerate(outcomes):
        colour = FOLD_COLOURS[index % len(FOLD_COLOURS)]
        history = outcome.history
        if "epoch" in history:
            epochs = history["epoch"].to_numpy()
        else:
            epochs = np.arange(1, len(history) + 1)
        if metric in history:
            ax.plot(epochs, history[metric], linestyle="--", color=colour)
            drawn = True
        if f"val_{metric}" in history:
            validation = history[f"val_{metric}"].to_numpy(dtype=float)
            ax.plot(epochs, validation, color=colour, label=f"fold {outcome.fold}")
            drawn = True
            # The loss plot marks the epoch whose weights were kept.
            best = _kept_epoch(outcome, epochs, validation)
            if metric == "loss" and best is not None:
                ax.plot(epochs[best], validation[best], "*", color=colour, ms=11)

    if not drawn:
        ax.text(
            0.5,
            0.5,
            f"no {metric} recorded in the training history",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
    ax.set_xlabel("Epoch")
    names = {"loss": "Loss (weighted binary cross-entropy)"}
    ax.set_ylabel(names.get(metric, f"{metric.capitalize()} (weighted)"))

    # Colours name the folds; grey entries explain the line styles.
    handles, _ = ax.get_legend_handles_labels()
    handles += [
        Line2D([], [], color="0.3", linestyle="--", label="training"),
        Line2D([], [], color="0.3", linestyle="-", label="validation"),
    ]
    if metric == "loss":
        handles.append(
            Line2D(
                [],
                [],
                color="0.3",
                marker="*",
                ms=11,
                linestyle="none",
                label="kept model (lowest validation loss)",
            )
        )
    ax.legend(handles=handles, loc="best", ncols=2)
    ax.margins(y=0.25)
    stamp(figure, labels.study, labels.point)
    return figure


@plot_style()
def plot_response(
    outcomes: Sequence[FoldOutcome], labels: PlotLabels, *, normalised: bool
) -> Figure:
    """Classifier output for signal and background, test against training events.

    Test events of all folds together contain every event once, so the test
    histograms (filled) show the true weighted yields. Training events appear
    in several folds; their histograms (markers with statistical errors) are
    scaled to the test event count in the absolute version, and both are
    scaled to unit area in the normalised one. A difference between the two
    shapes points to overtraining.

    Args:
        outcomes: the trained folds.
        labels: names for the legend and the stamp.
        normalised: scale every histogram to unit area.

    Returns:
        The figure.
    """
    figure, ax = new_figure()
    # Histogrammed fold by fold: the training events of all folds together
    # are k - 1 times the dataset.
    test = [outcome.test for outcome in outcomes]
    train = [outcome.train for outcome in outcomes]
    edges = np.linspace(0.0, 1.0, RESPONSE_BINS + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    width = edges[1] - edges[0]

    # One factor for both classes keeps the training signal-to-background
    # ratio as it is in the data.
    train_scale = sum(map(len, test)) / max(sum(map(len, train)), 1)
    classes = (
        (1, labels.signal, SIGNAL_COLOUR, "o"),
        (0, labels.background, BACKGROUND_COLOUR, "s"),
    )
    for label_value, name, colour, marker in classes:
        counts, _ = _class_histogram(test, label_value, edges)
        train_counts, train_errors = _class_histogram(train, label_value, edges)
        if normalised:
            counts = _unit_area(counts)
            total = train_counts.sum()
            if total:
                train_counts, train_errors = train_counts / total, train_errors / total
        else:
            train_counts = train_counts * train_scale
            train_errors = train_errors * train_scale

        ax.stairs(
            counts,
            edges,
            fill=True,
            facecolor=(colour, 0.3),
            edgecolor=colour,
            linewidth=1.5,
            label=f"{name}, test",
        )
        ax.errorbar(
            centres,
            train_counts,
            yerr=train_errors,
            fmt=marker,
            ms=4,
            color=colour,
            label=f"{name}, training",
        )

    ax.set_xlim(0, 1)
    ax.set_xlabel("Classifier output")
    if normalised:
        ax.set_ylabel(f"Fraction of weighted events / {width:.3g}")
        note = "each histogram scaled to unit area"
    else:
        ax.set_ylabel(f"Weighted events / {width:.3g}")
        note = f"training events scaled by {train_scale:.3g} to the test event count"
    ks = _ks_note(outcomes)
    if ks:
        note = f"{note}\n{ks}"
    ax.set_title(note, loc="left", fontsize=8, color="0.35")
    # Signal gathers near 1 and background near 0; headroom keeps the
    # legend above both peaks.
    ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    ax.set_ylim(top=ax.get_ylim()[1] * 1.45)
    ax.legend(loc="upper center", ncols=2)
    stamp(figure, labels.study, labels.point)
    return figure


@plot_style()
def plot_variable(dataset: Dataset, index: int, labels: PlotLabels) -> Figure:
    """Weighted, normalised distribution of one input variable by class.

    Integer variables with few values get one bin per value. Continuous ones
    are shown between their 0.5 % and 99.5 % quantiles, with the events
    outside counted in the first and last bin, so that a few extreme events do
    not squeeze the distribution into one bin.

    Args:
        dataset: the loaded events.
        index: column of the variable in ``dataset.features``.
        labels: names for the legend and the stamp.

    Returns:
        The figure.
    """
    figure, ax = new_figure()
    name = dataset.variables[index]
    values = dataset.features[:, index].astype(np.float64)
    finite = np.isfinite(values)
    edges, clipped, note = _variable_binning(values[finite])

    classes = (
        (1, labels.signal, SIGNAL_COLOUR),
        (0, labels.background, BACKGROUND_COLOUR),
    )
    for label_value, class_name, colour in classes:
        chosen = finite & (dataset.labels == label_value)
        shown = (
            np.clip(values[chosen], edges[0], edges[-1]) if clipped else values[chosen]
        )
        counts, _ = np.histogram(shown, bins=edges, weights=dataset.weights[chosen])
        counts = _unit_area(counts)
        # Signal filled, background as a line: both stay visible where
        # they overlap.
        filled = label_value == 1
        ax.stairs(
            counts,
            edges,
            fill=filled,
            facecolor=(colour, 0.3) if filled else "none",
            edgecolor=colour,
            linewidth=1.8,
            label=class_name,
        )

    ax.set_xlim(edges[0], edges[-1])
    unit = labels.units.get(name)
    ax.set_xlabel(f"{name} [{unit}]" if unit else name)
    ax.set_ylabel("Fraction of weighted events / bin")
    ax.set_title(note, loc="left", fontsize=8, color="0.35")
    ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    ax.set_ylim(top=ax.get_ylim()[1] * 1.25)
    ax.legend(loc="best")
    stamp(figure, labels.study, labels.point)
    return figure


def _ks_note(outcomes: Sequence[FoldOutcome]) -> str:
    # The overtraining check of the evaluation, fold by fold, so the plot
    # and metrics.json agree.
    parts = []
    for name in ("signal", "background"):
        values = []
        for outcome in outcomes:
            result = (outcome.metrics.get("overtraining") or {}).get(name)
            values.append("n/a" if not result else f"{result['ks_pvalue']:.3g}")
        if any(value != "n/a" for value in values):
            parts.append(f"{name} {', '.join(values)}")
    if not parts:
        return ""
    return "KS p-value train vs test per fold: " + "; ".join(parts)


def _sample_names(study: Study, names: Sequence[str]) -> str:
    return " + ".join(study.data.samples[name].label or name for name in names)


def _variable_file_names(variables: Sequence[str]) -> dict[str, int]:
    # Two names may clean up to the same file name ("a/b", "a_b"); the
    # column index then keeps the files apart.
    names: dict[str, int] = {}
    for index, variable in enumerate(variables):
        name = f"variable_{file_stem(variable)}"
        if name in names:
            name = f"{name}_{index}"
        names[name] = index
    return names


def _roc(scored: Scored) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        bkg_eff, sig_eff, _ = weighted_roc(scored.labels, scored.scores, scored.weights)
    except ValueError as error:
        # A class missing from a small fold, or diverged scores: the other
        # curves are still worth drawing.
        log.warning("%s", error)
        return None
    return bkg_eff, sig_eff


def _auc(
    outcome: FoldOutcome, part: str, bkg_eff: np.ndarray, sig_eff: np.ndarray
) -> float:
    # The evaluation's number goes in the legend, so plot and metrics.json
    # agree; the area under the drawn curve stands in when it is missing.
    recorded = outcome.metrics.get(part, {})
    value = recorded.get("auc") if isinstance(recorded, dict) else None
    if isinstance(value, (int, float)) and np.isfinite(value):
        return float(value)
    return float(np.trapezoid(sig_eff, bkg_eff))


def _thin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if x.size <= MAX_CURVE_POINTS:
        return x, y
    # Points evenly spaced along the curve's length keep its shape in the
    # steep and in the flat parts alike.
    length = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])
    targets = np.linspace(0.0, length[-1], MAX_CURVE_POINTS)
    keep = np.unique(np.searchsorted(length, targets).clip(0, x.size - 1))
    keep = np.union1d(keep, [0, x.size - 1])
    return x[keep], y[keep]


def _kept_epoch(
    outcome: FoldOutcome, epochs: np.ndarray, validation: np.ndarray
) -> int | None:
    """Row of the epoch whose weights the fold kept, or None if unknown."""
    # Training records the restored epoch; with a min_delta it can differ
    # from the plain minimum, so the record wins when present.
    recorded = outcome.metrics.get("best_epoch")
    if isinstance(recorded, int):
        rows = np.flatnonzero(epochs == recorded)
        if rows.size:
            return int(rows[0])
    if np.isfinite(validation).any():
        return int(np.nanargmin(validation))
    return None


def _class_histogram(
    parts: Sequence[Scored], label_value: int, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    # Weighted counts of one class over all parts, and their errors.
    counts = np.zeros(edges.size - 1)
    squares = np.zeros(edges.size - 1)
    for scored in parts:
        chosen = scored.labels == label_value
        scores = np.clip(scored.scores[chosen], edges[0], edges[-1])
        weights = scored.weights[chosen]
        counts += np.histogram(scores, bins=edges, weights=weights)[0]
        squares += np.histogram(scores, bins=edges, weights=weights**2)[0]
    return counts, np.sqrt(squares)


def _unit_area(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else counts


def _variable_binning(values: np.ndarray) -> tuple[np.ndarray, bool, str]:
    """Return bin edges, whether values must be clipped into them, and a note."""
    if values.size == 0:
        return np.linspace(0.0, 1.0, 2), False, "no finite values"

    distinct = np.unique(values)
    if distinct.size <= MAX_DISCRETE_VALUES and np.all(distinct == np.round(distinct)):
        edges = np.arange(distinct[0] - 0.5, distinct[-1] + 1.0, 1.0)
        return edges, False, "one bin per value"

    low, high = np.quantile(values, CLIP_QUANTILES)
    if low == high:
        low, high = float(values.min()), float(values.max())
    if low == high:
        return np.array([low - 0.5, high + 0.5]), False, "a single value"
    outside = np.mean((values < low) | (values > high))
    note = (
        f"range: 0.5-99.5 % quantiles; {100 * outside:.1f} % of events outside, "
        f"counted in the first and last bin"
    )
    return np.linspace(low, high, VARIABLE_BINS + 1), True, note
