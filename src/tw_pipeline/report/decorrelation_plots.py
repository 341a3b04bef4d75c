"""Plots of the decorrelation: adversarial losses and systematic responses.

``adversary_losses`` shows, per fold, the three validation losses against
the iteration (0 is the end of pre-training): the classifier's own loss
L_clf, lambda times the adversary's loss, and the combined L_clf - lambda
L_adv that the classifier minimises. A dotted line marks lambda ln 2 (or
lambda against a variable), the adversary's loss when it learns nothing.

``systematic_response_<sample>`` shows the test-fold response of the nominal
sample and of its variation, each scaled to unit area, with their ratio and
the KS statistic and Jensen-Shannon divergence of metrics.json.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from tw_pipeline.data.dataset import Dataset
from tw_pipeline.evaluation.decorrelated_variable import VariableResponse
from tw_pipeline.evaluation.outcome import FoldOutcome
from tw_pipeline.evaluation.systematics import (
    SystematicResponse,
    evaluate_systematics,
    response_distance,
)
from tw_pipeline.report.plots import point_formats
from tw_pipeline.report.style import (
    FOLD_COLOURS,
    SIGNAL_COLOUR,
    file_stem,
    new_figure,
    plot_style,
    save_figure,
    stamp,
)
from tw_pipeline.run.layout import point_layout
from tw_pipeline.study.models import Study

__all__ = [
    "evaluate_and_plot_decorrelation",
    "plot_response_across_variable",
    "plot_adversary_losses",
    "plot_systematic_response",
    "write_decorrelation_plots",
]

log = logging.getLogger(__name__)

RESPONSE_BINS = 40
_VARIED_COLOUR = "#7b3294"


def evaluate_and_plot_decorrelation(
    outcomes: Sequence[FoldOutcome],
    dataset: Dataset,
    fold_index_array: np.ndarray,
    study: Study,
) -> tuple[list[FoldOutcome], dict]:
    """Measure the distances of a point (systematic samples, decorrelated
    variable) and draw their plots.

    Returns:
        The folds with their distances in ``metrics["systematics"]`` and
        ``metrics["decorrelation"]``, and the numbers to add to the point's
        aggregate; with an adversary, those of its target.
    """
    from tw_pipeline.evaluation.decorrelated_variable import evaluate_variable
    from tw_pipeline.training.adversary import ADVERSARY_HISTORY_FILE

    outcomes = list(outcomes)
    adversary = study.adversary
    aggregate: dict = {}
    responses: list[SystematicResponse] = []
    variable: VariableResponse | None = None
    if dataset.systematic is not None:
        if adversary is None:
            log.info(
                "no adversary section: the systematic samples (%s) are used for "
                "the distance between nominal and varied responses only",
                ", ".join(study.data.systematic_samples()),
            )
        evaluation = evaluate_systematics(outcomes, dataset, study)
        outcomes, aggregate, responses = (
            evaluation.outcomes,
            evaluation.aggregate,
            evaluation.responses,
        )
    if adversary is not None and adversary.variable is not None:
        outcomes, numbers, variable = evaluate_variable(
            outcomes, dataset, fold_index_array, study
        )
        # The adversary's target ranks the point.
        aggregate = {**aggregate, **numbers}
        aggregate.pop("distance_sample", None)

    layout = point_layout(study)
    histories = []
    for outcome in outcomes:
        path = layout.fold(outcome.fold) / ADVERSARY_HISTORY_FILE
        if path.is_file():
            histories.append((outcome.fold, pd.read_csv(path)))
    write_decorrelation_plots(histories, responses, study, layout.plots, variable)
    return outcomes, aggregate


def write_decorrelation_plots(
    histories: Sequence[tuple[int, pd.DataFrame]],
    responses: Sequence[SystematicResponse],
    study: Study,
    plots_dir: Path,
    variable: VariableResponse | None = None,
) -> list[Path]:
    """Write the loss plot (with an adversary), one response plot per
    systematic sample and one of the response across the decorrelated variable.

    Args:
        histories: (fold, adversary history) of every trained fold; empty
            without an adversary.
        responses: pooled test responses per systematic sample.
        study: the point's study, for lambda, names and formats.
        plots_dir: folder receiving the files.

    Returns:
        Every file written.
    """
    formats = point_formats(study)
    written: list[Path] = []
    with plot_style():
        if histories and study.adversary is not None:
            figure = plot_adversary_losses(histories, study)
            written.extend(save_figure(figure, plots_dir / "adversary_losses", formats))
        for response in responses:
            figure = plot_systematic_response(response, study)
            base = plots_dir / f"systematic_response_{file_stem(response.sample)}"
            written.extend(save_figure(figure, base, formats))
        if variable is not None:
            figure = plot_response_across_variable(variable, study)
            base = plots_dir / f"response_across_{file_stem(variable.variable)}"
            written.extend(save_figure(figure, base, formats))
    log.info("wrote %d decorrelation plot files to %s", len(written), plots_dir)
    return written


def plot_adversary_losses(
    histories: Sequence[tuple[int, pd.DataFrame]], study: Study
) -> Figure:
    """The three validation losses against the iteration, one colour per fold.

    Three panels sharing the iteration axis, top to bottom: the classifier's
    loss, lambda times the adversary's loss (with its chance level marked) and
    the combined loss the classifier minimises.
    """
    assert study.adversary is not None
    lam = study.adversary.lam
    target = study.adversary.sample or f"{study.adversary.variable} bins"
    figure, ax = new_figure(size=(6.4, 7.2))
    figure.delaxes(ax)
    grid = figure.add_gridspec(3, 1, hspace=0.08)
    axes = [figure.add_subplot(grid[0])]
    axes += [figure.add_subplot(grid[i], sharex=axes[0]) for i in (1, 2)]
    panels = (
        ("val_classifier_loss", 1.0, "$L_{clf}$"),
        ("val_adversary_loss", lam, r"$\lambda L_{adv}$"),
        ("val_combined_loss", 1.0, r"$L_{clf} - \lambda L_{adv}$"),
    )
    for position, (fold, history) in enumerate(histories):
        colour = FOLD_COLOURS[position % len(FOLD_COLOURS)]
        for panel, (column, factor, _) in zip(axes, panels, strict=True):
            panel.plot(
                history["iteration"],
                history[column].to_numpy() * factor,
                color=colour,
                marker=".",
                label=f"fold {fold}" if panel is axes[0] else None,
            )
    axes[1].axhline(
        lam * study.adversary.chance_loss,
        color="0.4",
        linewidth=1.0,
        linestyle=":",
        label=(
            rf"$\lambda \ln {study.adversary.bins}$ (adversary at chance)"
            if study.adversary.variable is not None
            else r"$\lambda \ln 2$ (adversary at chance)"
        ),
    )
    for panel, (_, _, name) in zip(axes, panels, strict=True):
        panel.set_ylabel(name)
    for panel in axes[:2]:
        panel.tick_params(labelbottom=False)
    axes[2].set_xlabel("Iteration (0: after pre-training)")
    axes[2].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_title(
        f"validation losses, adversary on {target}, $\\lambda$ = {lam:g}",
        loc="left",
        fontsize=8,
        color="0.35",
    )
    axes[0].legend(fontsize=7, ncols=3)
    axes[1].legend(fontsize=7, loc="lower right")
    stamp(figure, study.study, study.point_name)
    return figure


def plot_systematic_response(response: SystematicResponse, study: Study) -> Figure:
    """Unit-area test responses of the nominal sample and its variation, with ratio."""
    figure, (ax, ratio_ax) = _two_panels()
    edges = np.linspace(0.0, 1.0, RESPONSE_BINS + 1)
    nominal, _ = np.histogram(
        np.clip(response.nominal_scores, 0, 1), edges, weights=response.nominal_weights
    )
    varied, _ = np.histogram(
        np.clip(response.varied_scores, 0, 1), edges, weights=response.varied_weights
    )
    nominal = nominal / nominal.sum() if nominal.sum() else nominal
    varied = varied / varied.sum() if varied.sum() else varied
    names = {
        name: study.data.samples[name].label or name
        for name in (response.varies, response.sample)
    }

    ax.stairs(
        nominal,
        edges,
        fill=True,
        facecolor=(SIGNAL_COLOUR, 0.3),
        edgecolor=SIGNAL_COLOUR,
        linewidth=1.5,
        label=f"{names[response.varies]} (nominal), test",
    )
    ax.stairs(
        varied,
        edges,
        color=_VARIED_COLOUR,
        linewidth=1.8,
        label=f"{names[response.sample]} (systematic), test",
    )
    distance = response_distance(
        response.nominal_scores,
        response.varied_scores,
        response.nominal_weights,
        response.varied_weights,
        study.evaluation.significance_bins,
    )
    jsd = distance["jsd"]
    ax.set_title(
        f"all test folds, unit area; KS {distance['ks']:.4f}, JS divergence "
        f"{'n/a' if jsd is None else f'{jsd:.4g}'}",
        loc="left",
        fontsize=8,
        color="0.35",
    )
    ax.set_ylabel(f"Fraction of weighted events / {edges[1] - edges[0]:.3g}")
    ax.set_ylim(top=ax.get_ylim()[1] * 1.3)
    ax.legend(loc="upper center")

    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(nominal > 0, varied / nominal, np.nan)
    ratio_ax.stairs(ratio, edges, color=_VARIED_COLOUR, linewidth=1.5)
    ratio_ax.axhline(1.0, color="0.5", linewidth=0.8)
    ratio_ax.set_ylim(0.5, 1.5)
    ratio_ax.set_xlim(0, 1)
    ratio_ax.set_ylabel("syst. / nom.")
    ratio_ax.set_xlabel("Classifier output")
    stamp(figure, study.study, study.point_name)
    return figure


def plot_response_across_variable(response: VariableResponse, study: Study) -> Figure:
    """Unit-area test responses in each quartile of the decorrelated variable."""
    figure, ax = new_figure()
    # Half the usual bins: each quartile holds a quarter of the events.
    edges = np.linspace(0.0, 1.0, RESPONSE_BINS // 2 + 1)
    scores = np.clip(response.scores, 0, 1)
    counts, _ = np.histogram(scores, edges, weights=response.weights)
    ax.stairs(
        counts / counts.sum(),
        edges,
        fill=True,
        facecolor=("0.5", 0.25),
        edgecolor="0.4",
        label=f"all {response.events} events",
    )
    largest = 0.0
    for position, (low, high, inside) in enumerate(_quartiles(response)):
        if not inside.any():
            continue
        part, _ = np.histogram(scores[inside], edges, weights=response.weights[inside])
        ax.stairs(
            part / part.sum(),
            edges,
            linewidth=1.6,
            color=FOLD_COLOURS[position % len(FOLD_COLOURS)],
            label=f"{low:.4g} <= {response.variable} < {high:.4g}",
        )
        largest = max(
            largest,
            response_distance(
                response.scores[inside],
                response.scores,
                response.weights[inside],
                response.weights,
                study.evaluation.significance_bins,
            )["ks"],
        )
    ax.set_xlim(0, 1)
    ax.set_xlabel("Classifier output")
    ax.set_ylabel(f"Fraction of weighted events / {edges[1] - edges[0]:.3g}")
    ax.set_title(
        f"all test folds, quartiles of {response.variable}; largest KS against "
        f"all: {largest:.4f}",
        loc="left",
        fontsize=8,
        color="0.35",
    )
    ax.set_ylim(top=ax.get_ylim()[1] * 1.4)
    ax.legend(fontsize=7, loc="upper center", ncols=2)
    stamp(figure, study.study, study.point_name)
    return figure


def _quartiles(response: VariableResponse):  # noqa: ANN202 - a generator
    edges = response.edges
    for index in range(edges.size - 1):
        low, high = edges[index], edges[index + 1]
        upper = (
            response.values <= high
            if index == edges.size - 2
            else response.values < high
        )
        yield low, high, (response.values >= low) & upper


def _two_panels() -> tuple[Figure, tuple]:
    figure, ax = new_figure(size=(6.4, 5.6))
    figure.delaxes(ax)
    grid = figure.add_gridspec(2, 1, height_ratios=(3, 1), hspace=0.05)
    top = figure.add_subplot(grid[0])
    bottom = figure.add_subplot(grid[1], sharex=top)
    top.tick_params(labelbottom=False)
    return figure, (top, bottom)
