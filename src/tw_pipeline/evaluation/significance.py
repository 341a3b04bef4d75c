"""Expected yields and the binned Asimov significance of the response.

The Asimov significance of one bin with expected signal s and background b is
``sqrt(2 ((s + b) ln(1 + s/b) - s))``, the median discovery significance of a
counting experiment without systematic uncertainties (Cowan, Cranmer, Gross,
Vitells, Eur. Phys. J. C 71 (2011) 1554, eq. 97). The bins of the response
histogram are independent counting experiments, so their squares add. It
approaches ``s / sqrt(b)`` for ``s << b``.

Bins without expected background are left out (the formula is infinite
there) and counted, so that a user sees when too fine a binning of too few
simulated events is flattering the number.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from tw_pipeline.evaluation.outcome import Scored
from tw_pipeline.study.models import Study

__all__ = ["EventYields", "asimov_significance", "binned_asimov", "scaled_weights"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventYields:
    """Expected signal and background events after the selection.

    Attributes:
        signal: expected signal events.
        background: expected background events.
        source: "study" when given in ``evaluation.yields``, "weights" when
            taken from the weighted sums of the selected events.
    """

    signal: float
    background: float
    source: str

    @classmethod
    def for_study(
        cls, study: Study, labels: np.ndarray, weights: np.ndarray
    ) -> EventYields:
        """The study's yields, or the weighted sums of its events when it gives none."""
        given = study.evaluation.yields
        if given is not None:
            return cls(given.signal, given.background, "study")
        labels = np.asarray(labels)
        return cls(
            float(np.sum(weights[labels == 1])),
            float(np.sum(weights[labels != 1])),
            "weights",
        )

    def to_json(self) -> dict[str, Any]:
        """The yields as a JSON-ready dictionary."""
        return {
            "signal": self.signal,
            "background": self.background,
            "source": self.source,
        }


def scaled_weights(scored: Scored, yields: EventYields) -> np.ndarray:
    """Weights of ``scored`` scaled so that each class sums to its yield.

    A test fold holds a share of the events; scaling it to the full yields
    gives the numbers an analysis with all events would see.

    Raises:
        ValueError: if a class has a total weight of zero or less.
    """
    labels = np.asarray(scored.labels)
    weights = np.asarray(scored.weights, dtype=np.float64)
    result = np.empty_like(weights)
    for label, expected in ((1, yields.signal), (0, yields.background)):
        chosen = labels == label
        total = float(np.sum(weights[chosen]))
        if not total > 0:
            name = "signal" if label == 1 else "background"
            msg = f"the {name} events have a total weight of {total:.6g}; cannot scale"
            raise ValueError(msg)
        result[chosen] = weights[chosen] * (expected / total)
    return result


def asimov_significance(
    signal: np.ndarray, background: np.ndarray
) -> tuple[float, int]:
    """Combined Asimov significance of independent bins.

    Args:
        signal: expected signal events per bin; negative contents (from
            negative weights) count as zero.
        background: expected background events per bin.

    Returns:
        The significance and the number of bins left out for holding signal
        but no positive background.
    """
    signal = np.clip(np.asarray(signal, dtype=np.float64), 0.0, None)
    background = np.asarray(background, dtype=np.float64)
    usable = background > 0
    skipped = int(np.sum(~usable & (signal > 0)))
    s, b = signal[usable], background[usable]
    terms = 2.0 * ((s + b) * np.log1p(s / b) - s)
    # Rounding can make a term of a signal-free bin a tiny negative number.
    return float(np.sqrt(np.sum(np.clip(terms, 0.0, None)))), skipped


def binned_asimov(
    scored: Scored, yields: EventYields, bins: int
) -> dict[str, Any] | None:
    """Asimov significance of the response histogram for the given yields.

    Args:
        scored: scores in [0, 1], labels and true weights.
        yields: the expected events the histogram is scaled to.
        bins: equal-width bins in [0, 1].

    Returns:
        ``{"value", "bins", "bins_without_background"}``, or None when a
        class has no positive total weight.
    """
    try:
        weights = scaled_weights(scored, yields)
    except ValueError as error:
        log.warning("no Asimov significance: %s", error)
        return None
    edges = np.linspace(0.0, 1.0, bins + 1)
    scores = np.clip(scored.scores, 0.0, 1.0)
    labels = np.asarray(scored.labels)
    signal, _ = np.histogram(scores[labels == 1], edges, weights=weights[labels == 1])
    background, _ = np.histogram(
        scores[labels != 1], edges, weights=weights[labels != 1]
    )
    value, skipped = asimov_significance(signal, background)
    return {"value": value, "bins": bins, "bins_without_background": skipped}
