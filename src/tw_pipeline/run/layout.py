"""Where a run puts its files, and how to tell a finished point.

    <output.dir>/<study>/<point>/config.yaml      exact resolved config
    <output.dir>/<study>/<point>/provenance.json  versions, hashes, times
    <output.dir>/<study>/<point>/fold-<i>/        model.keras, scaler.json, history.csv
    <output.dir>/<study>/<point>/plots/           png, pdf
    <output.dir>/<study>/<point>/cut_scan.csv     efficiencies and S/sqrt(S+B) per cut
    <output.dir>/<study>/<point>/report.html      self-contained page of the point
    <output.dir>/<study>/<point>/metrics.json     written last: the point is finished
    <output.dir>/<study>/<point>/failed.json      the error of a point that failed
    <output.dir>/<study>/summary.csv, summary.md  all finished points, ranked
    <output.dir>/<study>/summary.html             the same, linked to the points' pages
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tw_pipeline.study.models import Study

__all__ = ["PointLayout", "point_layout", "study_dir"]

METRICS = "metrics.json"
FAILED = "failed.json"


def study_dir(study: Study) -> Path:
    """The run folder of the whole study."""
    return Path(study.output.dir) / study.study


@dataclass(frozen=True)
class PointLayout:
    """The files of one point's run folder."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def provenance(self) -> Path:
        return self.root / "provenance.json"

    @property
    def metrics(self) -> Path:
        return self.root / METRICS

    @property
    def failed(self) -> Path:
        return self.root / FAILED

    @property
    def plots(self) -> Path:
        return self.root / "plots"

    @property
    def network(self) -> Path:
        return self.root / "network.txt"

    @property
    def cut_scan(self) -> Path:
        return self.root / "cut_scan.csv"

    def fold(self, index: int) -> Path:
        return self.root / f"fold-{index}"

    def finished_metrics(self) -> dict[str, Any] | None:
        """The point's metrics if it finished, else None.

        A metrics file is written atomically and last, so its presence means
        the point is complete; one that cannot be read is treated as absent.
        """
        try:
            return json.loads(self.metrics.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None


def point_layout(study: Study) -> PointLayout:
    """The run folder of one point."""
    return PointLayout(root=study_dir(study) / study.point_name)
