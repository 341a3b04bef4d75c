"""The common look of every twpipe figure, and how figures are written.

Figures are drawn off-screen: the module selects matplotlib's non-interactive
"Agg" backend, so plots are made the same way on a laptop, in a batch job and
on a node without a display. Figures are created as plain
:class:`matplotlib.figure.Figure` objects rather than through pyplot's figure
manager, so a long sweep cannot pile up open figures.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib

# Selecting the backend after pyplot has been imported would close the
# caller's open figures (for example in a notebook); plain Figure objects
# need no backend at all, so an existing choice is left alone.
if "matplotlib.pyplot" not in sys.modules:
    matplotlib.use("Agg")

from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from tw_pipeline.run.atomic import atomic_path  # noqa: E402

__all__ = [
    "FOLD_COLOURS",
    "SIGNAL_COLOUR",
    "BACKGROUND_COLOUR",
    "file_stem",
    "new_figure",
    "plot_style",
    "save_figure",
    "stamp",
]

log = logging.getLogger(__name__)

# Okabe-Ito colours: distinguishable with the common forms of colour blindness
# and in greyscale print.
FOLD_COLOURS = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#F0E442",
    "#000000",
)
SIGNAL_COLOUR = "#0072B2"
BACKGROUND_COLOUR = "#D55E00"

# Close to the usual HEP look: ticks inside on all four sides with minor
# ticks, a light frame-less legend, and fonts readable on a slide.
_STYLE: dict[str, Any] = {
    "font.size": 11,
    "axes.labelsize": 12,
    "axes.titlesize": 11,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "xtick.direction": "in",
    "ytick.direction": "in",
    "xtick.top": True,
    "ytick.right": True,
    "xtick.minor.visible": True,
    "ytick.minor.visible": True,
    "axes.prop_cycle": matplotlib.cycler(color=list(FOLD_COLOURS)),
    "lines.linewidth": 1.6,
    "savefig.dpi": 150,
    "pdf.fonttype": 42,  # editable text in PDF, as journals ask
}

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.+-]+")


@contextmanager
def plot_style() -> Iterator[None]:
    """Apply the twpipe look to figures drawn and saved inside the block.

    matplotlib reads some settings when an artist is created and others when
    the figure is saved, so keep drawing and saving inside the block. Also
    usable as a decorator (``@plot_style()``) on functions that draw.
    """
    with matplotlib.rc_context(_STYLE):
        yield


def new_figure(*, size: tuple[float, float] = (6.4, 4.8)) -> tuple[Figure, Axes]:
    """Create a figure with one pair of axes and constrained layout.

    Args:
        size: figure size in inches.

    Returns:
        The figure and its axes.
    """
    figure = Figure(figsize=size, layout="constrained")
    return figure, figure.subplots()


def stamp(figure: Figure, study: str, point: str) -> None:
    """Write "<study> / <point>" in the top-right corner of ``figure``.

    The stamp tells which setting a plot belongs to once it has been copied
    onto a slide. It is placed as the figure's super-title, so the layout
    keeps room for it above the axes and it never hides a curve.
    """
    figure.suptitle(f"{study} / {point}", x=0.995, ha="right", fontsize=8, color="0.35")


def file_stem(name: str) -> str:
    """Turn a variable or key name into a safe part of a file name."""
    cleaned = _SAFE_NAME.sub("_", name).strip("._")
    return cleaned or "unnamed"


def save_figure(figure: Figure, base: Path, formats: Sequence[str]) -> list[Path]:
    """Write ``figure`` once per format, atomically, then release it.

    Args:
        figure: the figure to write.
        base: destination without suffix; ``plots/roc`` becomes ``plots/roc.png``
            and ``plots/roc.pdf``.
        formats: file formats such as "png", "pdf", "svg".

    Returns:
        The written files, in the order of ``formats``.
    """
    base = Path(base)
    written = []
    try:
        for fmt in formats:
            # Appending rather than with_suffix: names such as
            # "summary_auc_vs_optimizer.learning_rate" contain dots.
            destination = base.with_name(f"{base.name}.{fmt}")
            with atomic_path(destination) as temporary:
                figure.savefig(
                    temporary,
                    format=fmt,
                    dpi=_STYLE["savefig.dpi"],
                    metadata=_metadata(fmt),
                )
            written.append(destination)
    finally:
        _release(figure)
    log.debug("wrote %s", ", ".join(str(path) for path in written))
    return written


def _metadata(fmt: str) -> dict[str, Any] | None:
    # A fixed (absent) creation date keeps PDFs of identical plots identical.
    if fmt == "pdf":
        return {"CreationDate": None}
    return None


def _release(figure: Figure) -> None:
    # A figure made through pyplot stays registered until closed; plain
    # Figure objects are simply cleared so their memory goes at once.
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(figure)
    figure.clear()
