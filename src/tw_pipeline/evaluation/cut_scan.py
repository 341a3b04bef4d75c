"""Efficiencies, purity and S/sqrt(S+B) as functions of the cut on the response.

For each cut t on a grid in [0, 1], events with ``score >= t`` pass. The
efficiencies are weighted fractions of each class; S and B are the expected
signal and background events that pass, for the yields of the study, so the
purity ``S / (S + B)`` and the significance ``S / sqrt(S + B)`` are the ones
of the analysis, not of the (class-balanced, subsampled) simulation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from tw_pipeline.evaluation.outcome import Scored
from tw_pipeline.evaluation.significance import EventYields, scaled_weights

__all__ = ["CUT_POINTS", "CutScan", "best_cut", "cut_scan"]

log = logging.getLogger(__name__)

# Cuts 0, 0.005, ..., 1: finer than any response histogram one would draw.
CUT_POINTS = 201


@dataclass(frozen=True)
class CutScan:
    """Numbers of each cut of the scan, one array entry per cut.

    Attributes:
        cuts: the cut values, increasing.
        signal_efficiency: weighted share of signal with ``score >= cut``.
        background_efficiency: the same for background.
        signal: expected signal events passing.
        background: expected background events passing.
        purity: ``S / (S + B)``, NaN where nothing passes.
        significance: ``S / sqrt(S + B)``, NaN where nothing passes.
    """

    cuts: np.ndarray
    signal_efficiency: np.ndarray
    background_efficiency: np.ndarray
    signal: np.ndarray
    background: np.ndarray
    purity: np.ndarray
    significance: np.ndarray

    def to_csv(self) -> str:
        """The scan as CSV text, one row per cut; empty cells for NaN."""
        columns = (
            "cut",
            "signal_efficiency",
            "background_efficiency",
            "signal",
            "background",
            "purity",
            "significance",
        )
        arrays = (
            self.cuts,
            self.signal_efficiency,
            self.background_efficiency,
            self.signal,
            self.background,
            self.purity,
            self.significance,
        )
        lines = [",".join(columns)]
        for row in zip(*arrays, strict=True):
            lines.append(",".join("" if np.isnan(v) else f"{v:.6g}" for v in row))
        return "\n".join(lines) + "\n"


def cut_scan(scored: Scored, yields: EventYields, points: int = CUT_POINTS) -> CutScan:
    """Scan cuts on the response of ``scored`` between 0 and 1.

    Args:
        scored: scores, labels and true weights.
        yields: expected signal and background events before the cut.
        points: number of cuts, evenly spaced in [0, 1].

    Returns:
        The scan.

    Raises:
        ValueError: if a class has a total weight of zero or less.
    """
    weights = scaled_weights(scored, yields)
    labels = np.asarray(scored.labels)
    scores = np.asarray(scored.scores, dtype=np.float64)
    cuts = np.linspace(0.0, 1.0, points)
    signal = _passing(scores[labels == 1], weights[labels == 1], cuts)
    background = _passing(scores[labels != 1], weights[labels != 1], cuts)

    total = signal + background
    with np.errstate(invalid="ignore", divide="ignore"):
        purity = np.where(total > 0, signal / total, np.nan)
        significance = np.where(total > 0, signal / np.sqrt(total), np.nan)
    return CutScan(
        cuts=cuts,
        signal_efficiency=signal / yields.signal,
        background_efficiency=background / yields.background,
        signal=signal,
        background=background,
        purity=purity,
        significance=significance,
    )


def best_cut(scan: CutScan) -> dict[str, Any] | None:
    """The cut of highest S/sqrt(S+B), with its efficiencies and purity.

    Returns:
        ``{"cut", "significance", "signal_efficiency", "background_efficiency",
        "purity"}``, or None when no cut lets events pass.
    """
    if not np.any(np.isfinite(scan.significance)):
        return None
    best = int(np.nanargmax(scan.significance))
    return {
        "cut": float(scan.cuts[best]),
        "significance": float(scan.significance[best]),
        "signal_efficiency": float(scan.signal_efficiency[best]),
        "background_efficiency": float(scan.background_efficiency[best]),
        "purity": float(scan.purity[best]),
    }


def _passing(scores: np.ndarray, weights: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    # Weight with score >= each cut. An event counts for the cuts at or below
    # its score, so its weight goes into the bin of the highest such cut and
    # a cumulative sum from the top adds up the bins: one pass over the
    # events, with no sorted copies of them.
    passed_cuts = np.searchsorted(cuts, scores, side="right")
    per_bin = np.bincount(passed_cuts, weights=weights, minlength=cuts.size + 1)
    return np.cumsum(per_bin[::-1])[::-1][1:]
