"""Per-point plots: every figure in every format, with the right content."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tw_pipeline.data.dataset import Dataset
from tw_pipeline.evaluation.outcome import FoldOutcome, Scored
from tw_pipeline.report.plots import (
    PlotLabels,
    plot_history,
    plot_response,
    plot_roc,
    plot_variable,
    write_point_plots,
)
from tw_pipeline.study.models import Study

MAGIC = {"png": b"\x89PNG", "pdf": b"%PDF", "svg": b"<?xml"}
POINT_PLOTS = {"roc", "loss", "accuracy", "response", "response_normalised"}
VARIABLES = ("mass_lep1jet1", "pT_jet2", "njets")


def make_study(**report) -> Study:
    return Study.model_validate(
        {
            "study": "tw-2j2b",
            "point": "nodes-30_lr-0.03",
            "data": {
                "samples": {
                    "tW": {"class": "signal", "files": ["tW.h5"]},
                    "ttbar": {"class": "background", "files": ["tt.h5"]},
                    "Zjets": {
                        "class": "background",
                        "files": ["z.h5"],
                        "label": "Z+jets",
                    },
                }
            },
            "variables": list(VARIABLES),
            "report": report,
        }
    )


def make_scored(rng: np.random.Generator, n: int, *, separation: float) -> Scored:
    labels = (rng.random(n) < 0.4).astype(np.int8)
    # Signal scores lean towards 1, background towards 0.
    scores = np.where(
        labels == 1,
        rng.beta(2.0 + separation, 2.0, n),
        rng.beta(2.0, 2.0 + separation, n),
    )
    weights = rng.lognormal(0.0, 0.3, n)
    weights[rng.random(n) < 0.03] *= -1.0
    return Scored(scores, labels, weights, labels.astype(np.int16))


def make_history(epochs: int, offset: float, *, accuracy: bool = True) -> pd.DataFrame:
    epoch = np.arange(1, epochs + 1)
    columns = {
        "epoch": epoch,
        "loss": 0.6 + 0.1 / epoch + offset,
        "val_loss": 0.62 + 0.1 / epoch + 0.001 * epoch + offset,
    }
    if accuracy:
        columns["accuracy"] = 0.7 - 0.1 / epoch
        columns["val_accuracy"] = 0.69 - 0.1 / epoch
    return pd.DataFrame(columns)


@pytest.fixture
def outcomes() -> list[FoldOutcome]:
    rng = np.random.default_rng(5)
    return [
        FoldOutcome(
            fold=fold,
            history=make_history(8 + fold, 0.01 * fold),
            train=make_scored(rng, 1200, separation=1.6),
            test=make_scored(rng, 600, separation=1.4),
        )
        for fold in range(3)
    ]


@pytest.fixture
def dataset() -> Dataset:
    rng = np.random.default_rng(9)
    n = 3000
    labels = (rng.random(n) < 0.5).astype(np.int8)
    mass = rng.gamma(3.0, 40.0, n) + 20.0 * labels
    mass[:3] = 1e6  # a few extreme values, as broken ntuples have
    pt = rng.gamma(2.0, 30.0, n)
    njets = rng.integers(2, 6, n)
    features = np.column_stack([mass, pt, njets]).astype(np.float32)
    return Dataset(
        features=features,
        labels=labels,
        weights=rng.lognormal(0.0, 0.2, n),
        sample_index=(1 - labels).astype(np.int16),
        event_number=np.arange(n, dtype=np.int64),
        variables=VARIABLES,
        sample_names=("tW", "ttbar", "Zjets"),
    )


@pytest.fixture
def labels() -> PlotLabels:
    return PlotLabels.from_study(make_study())


def test_every_plot_is_written_in_every_requested_format(outcomes, dataset, tmp_path):
    study = make_study(formats=["png", "pdf", "svg"])

    written = write_point_plots(outcomes, dataset, study, tmp_path / "plots")

    names = POINT_PLOTS | {f"variable_{name}" for name in VARIABLES}
    expected = {tmp_path / "plots" / f"{name}.{fmt}" for name in names for fmt in MAGIC}
    assert set(written) == expected
    assert len(written) == len(expected) == 8 * 3
    for path in written:
        assert path.read_bytes().startswith(MAGIC[path.suffix[1:]]), path
    # Atomic writes leave no temporary files behind.
    assert sorted(tmp_path.joinpath("plots").iterdir()) == sorted(expected)


def test_variable_plots_are_skipped_when_switched_off(outcomes, dataset, tmp_path):
    study = make_study(formats=["png"], variable_plots=False)

    written = write_point_plots(outcomes, dataset, study, tmp_path)

    assert {path.stem for path in written} == POINT_PLOTS


def test_variable_plots_are_skipped_without_a_dataset(outcomes, tmp_path):
    written = write_point_plots(outcomes, None, make_study(formats=["png"]), tmp_path)

    assert {path.stem for path in written} == POINT_PLOTS


def test_no_outcomes_is_refused(dataset, tmp_path):
    with pytest.raises(ValueError, match="no fold outcomes"):
        write_point_plots([], dataset, make_study(), tmp_path)


def test_labels_name_the_samples_of_each_class():
    labels = PlotLabels.from_study(make_study())

    assert labels.signal == "signal (tW)"
    # The plot label of a sample replaces its name.
    assert labels.background == "background (ttbar + Z+jets)"
    assert (labels.study, labels.point) == ("tw-2j2b", "nodes-30_lr-0.03")


def test_every_figure_is_stamped_with_study_and_point(outcomes, dataset, labels):
    figures = [
        plot_roc(outcomes, labels),
        plot_history(outcomes, labels, "loss"),
        plot_response(outcomes, labels, normalised=True),
        plot_variable(dataset, 0, labels),
    ]

    for figure in figures:
        assert figure.get_suptitle() == "tw-2j2b / nodes-30_lr-0.03"
        ax = figure.axes[0]
        assert ax.get_xlabel() and ax.get_ylabel()
        assert ax.get_legend() is not None


def test_roc_draws_train_dashed_and_test_solid_in_one_colour_per_fold(outcomes, labels):
    ax = plot_roc(outcomes, labels).axes[0]

    curves = {line.get_label(): line for line in ax.get_lines()}
    for outcome in outcomes:
        train = next(
            c for n, c in curves.items() if n.startswith(f"fold {outcome.fold} train")
        )
        test = next(
            c for n, c in curves.items() if n.startswith(f"fold {outcome.fold} test")
        )
        assert (train.get_linestyle(), test.get_linestyle()) == ("--", "-")
        assert train.get_color() == test.get_color()
    assert len({c.get_color() for n, c in curves.items() if "test" in n}) == 3
    diagonal = curves["random guess"]
    assert list(diagonal.get_xdata()) == list(diagonal.get_ydata()) == [0, 1]
    assert "efficiency" in ax.get_xlabel() and "ttbar" in ax.get_xlabel()
    assert "efficiency" in ax.get_ylabel() and "tW" in ax.get_ylabel()


def test_roc_legend_shows_the_weighted_auc(labels):
    rng = np.random.default_rng(2)
    scored = make_scored(rng, 2000, separation=1.5)
    # Positive weights, so scikit-learn's AUC is the reference.
    scored = Scored(
        scored.scores, scored.labels, np.abs(scored.weights), scored.sample_index
    )
    outcome = FoldOutcome(0, make_history(3, 0.0), scored, scored)
    expected = roc_auc_score(scored.labels, scored.scores, sample_weight=scored.weights)

    ax = plot_roc([outcome], labels).axes[0]

    texts = [text.get_text() for text in ax.get_legend().get_texts()]
    assert f"fold 0 test, AUC = {expected:.3f}" in texts


def test_roc_legend_prefers_the_evaluation_auc(outcomes, labels):
    first = outcomes[0]
    recorded = FoldOutcome(
        first.fold,
        first.history,
        first.train,
        first.test,
        metrics={"train": {"auc": 0.8123}, "test": {"auc": 0.7456}},
    )

    ax = plot_roc([recorded], labels).axes[0]

    texts = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "fold 0 test, AUC = 0.746" in texts
    assert "fold 0 train, AUC = 0.812" in texts


def test_a_fold_with_one_class_gets_no_curve_but_a_warning(outcomes, labels, caplog):
    rng = np.random.default_rng(4)
    only_background = Scored(
        rng.random(50), np.zeros(50, np.int8), np.ones(50), np.zeros(50)
    )
    broken = FoldOutcome(7, make_history(3, 0.0), outcomes[0].train, only_background)

    with caplog.at_level(logging.WARNING):
        ax = plot_roc([broken], labels).axes[0]

    assert "no ROC curve for fold 7 test events" in caplog.text
    assert "positive total weight per class" in caplog.text
    assert [line.get_label().split(",")[0] for line in ax.get_lines()] == [
        "fold 7 train",
        "random guess",
    ]


def test_history_has_training_and_validation_per_fold(outcomes, labels):
    ax = plot_history(outcomes, labels, "accuracy").axes[0]

    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    solid = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
    assert len(dashed) == len(solid) == 3
    assert [len(line.get_xdata()) for line in solid] == [8, 9, 10]
    assert ax.get_xlabel() == "Epoch"


def test_loss_marks_the_epoch_with_the_lowest_validation_loss(outcomes, labels):
    ax = plot_history(outcomes[:1], labels, "loss").axes[0]

    history = outcomes[0].history
    best = history.loc[history["val_loss"].idxmin()]
    stars = [line for line in ax.get_lines() if line.get_marker() == "*"]
    assert len(stars) == 1
    assert stars[0].get_xdata()[0] == best["epoch"]


def test_history_without_accuracy_says_so(outcomes, labels):
    first = outcomes[0]
    bare = FoldOutcome(0, make_history(4, 0.0, accuracy=False), first.train, first.test)

    ax = plot_history([bare], labels, "accuracy").axes[0]

    assert "no accuracy recorded" in " ".join(text.get_text() for text in ax.texts)


def test_absolute_response_counts_every_test_event_once(outcomes, labels):
    ax = plot_response(outcomes, labels, normalised=False).axes[0]

    filled = {patch.get_label(): patch.get_data().values for patch in ax.patches}
    test_signal = np.concatenate([o.test.weights[o.test.labels == 1] for o in outcomes])
    test_background = np.concatenate(
        [o.test.weights[o.test.labels == 0] for o in outcomes]
    )
    assert filled["signal (tW), test"].sum() == pytest.approx(test_signal.sum())
    assert filled["background (ttbar + Z+jets), test"].sum() == pytest.approx(
        test_background.sum()
    )
    # Training events appear in k-1 folds each; they are scaled to the test size.
    assert "scaled by 0.5" in ax.get_title(loc="left")


def test_normalised_response_has_unit_area_for_train_and_test(outcomes, labels):
    ax = plot_response(outcomes, labels, normalised=True).axes[0]

    for patch in ax.patches:
        assert patch.get_data().values.sum() == pytest.approx(1.0)
    training = [
        container
        for container in ax.containers
        if container.get_label().endswith("training")
    ]
    assert len(training) == 2
    for container in training:
        assert container.lines[0].get_ydata().sum() == pytest.approx(1.0)


def test_variable_range_is_clipped_to_quantiles_and_says_so(dataset, labels):
    ax = plot_variable(dataset, 0, labels).axes[0]

    low, high = np.quantile(dataset.features[:, 0], [0.005, 0.995])
    assert ax.get_xlim() == pytest.approx((low, high))
    assert "0.5-99.5 % quantiles" in ax.get_title(loc="left")
    assert ax.get_xlabel() == "mass_lep1jet1"
    # The extreme events are kept, in the last bin: each class sums to one.
    for patch in ax.patches:
        assert patch.get_data().values.sum() == pytest.approx(1.0)
    names = [text.get_text() for text in ax.get_legend().get_texts()]
    assert names == ["signal (tW)", "background (ttbar + Z+jets)"]


def test_integer_variable_gets_one_bin_per_value(dataset, labels):
    ax = plot_variable(dataset, 2, labels).axes[0]

    edges = ax.patches[0].get_data().edges
    assert list(edges) == [1.5, 2.5, 3.5, 4.5, 5.5]
    assert "quantiles" not in ax.get_title(loc="left")


def test_loss_marks_the_epoch_training_kept_when_recorded(outcomes, labels):
    first = outcomes[0]
    kept = FoldOutcome(0, first.history, first.train, first.test, {"best_epoch": 3})

    ax = plot_history([kept], labels, "loss").axes[0]

    stars = [line for line in ax.get_lines() if line.get_marker() == "*"]
    assert [star.get_xdata()[0] for star in stars] == [3]


def test_variable_axis_shows_the_unit_from_the_study(dataset, labels):
    with_units = dataclasses.replace(labels, units={"mass_lep1jet1": "GeV"})

    ax = plot_variable(dataset, 0, with_units).axes[0]
    other = plot_variable(dataset, 2, with_units).axes[0]

    assert ax.get_xlabel() == "mass_lep1jet1 [GeV]"
    assert "[" not in other.get_xlabel()
