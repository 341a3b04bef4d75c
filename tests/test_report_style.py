"""Figure writing: every format, atomically, without leaking figures."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tw_pipeline.report.style import file_stem, new_figure, save_figure, stamp


def test_report_modules_draw_off_screen_and_leave_tensorflow_alone():
    # A fresh interpreter: in this one other tests may have chosen a backend.
    code = (
        "import sys, matplotlib;"
        "import tw_pipeline.report.plots, tw_pipeline.report.summary;"
        # The raw setting: reading rcParams normally would let matplotlib
        # pick a backend itself, which hides whether the module chose one.
        "print(str(dict.__getitem__(matplotlib.rcParams, 'backend')).lower());"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    environment = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}

    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    )

    assert result.stdout.split("\n")[:2] == ["agg", "False False"]


def test_save_figure_writes_each_format_next_to_the_base_name(tmp_path):
    figure, ax = new_figure()
    ax.plot([0, 1], [0, 1])

    # Dots in the base name must survive: they are part of key names.
    base = tmp_path / "sub" / "summary_auc_vs_optimizer.learning_rate"
    written = save_figure(figure, base, ["png", "pdf", "svg"])

    assert [path.name for path in written] == [
        "summary_auc_vs_optimizer.learning_rate.png",
        "summary_auc_vs_optimizer.learning_rate.pdf",
        "summary_auc_vs_optimizer.learning_rate.svg",
    ]
    assert written[0].read_bytes().startswith(b"\x89PNG")
    assert written[1].read_bytes().startswith(b"%PDF")
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == sorted(
        p.name for p in written
    )


def test_identical_figures_give_identical_pdfs(tmp_path):
    contents = []
    for name in ("a", "b"):
        figure, ax = new_figure()
        ax.plot([0, 1], [1, 0])
        contents.append(save_figure(figure, tmp_path / name, ["pdf"])[0].read_bytes())

    assert contents[0] == contents[1]


def test_a_failed_write_leaves_no_file(tmp_path):
    figure, _ = new_figure()

    with pytest.raises(ValueError, match="not supported"):
        save_figure(figure, tmp_path / "plot", ["png", "nosuchformat"])

    assert [path.name for path in tmp_path.iterdir()] == ["plot.png"]


def test_pyplot_figures_are_closed_after_saving(tmp_path):
    import matplotlib.pyplot as plt

    figure = plt.figure()
    number = figure.number

    save_figure(figure, tmp_path / "plot", ["png"])

    assert not plt.fignum_exists(number)


def test_stamp_names_study_and_point():
    figure, _ = new_figure()

    stamp(figure, "tw-2j2b", "nodes-30")

    assert figure.get_suptitle() == "tw-2j2b / nodes-30"


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("pT_jet1", "pT_jet1"),
        ("m(l,j)/GeV", "m_l_j_GeV"),
        ("network.nodes", "network.nodes"),
    ],
)
def test_file_stems_are_safe(name, stem):
    assert file_stem(name) == stem
