"""The state of every point of a study, read from its run folder alone.

No batch system is asked: a point's folder says everything. It is finished
when its metrics file exists, failed when it holds failed.json, and running
when a run has started it (its provenance exists) but neither result is
there yet. A job that was killed without a word therefore shows as running
until the point is run again. Points that `twpipe submit` queued but whose
jobs have not started have no folder yet; they are known from the index of
point files that submit keeps in the run folder.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from tw_pipeline.errors import InvalidData, Problem
from tw_pipeline.run.layout import FAILED, METRICS

__all__ = ["POINTS_DIR", "STATES", "PointStatus", "format_status", "study_status"]

log = logging.getLogger(__name__)

# Where `twpipe submit` expands the sweep, inside the study's run folder.
POINTS_DIR = Path("batch") / "points"

STATES = ("finished", "failed", "running", "not started")


@dataclass(frozen=True)
class PointStatus:
    """One point and what its folder says about it.

    Attributes:
        name: the point's name (its folder under the run folder).
        state: one of :data:`STATES`.
        detail: test AUC of a finished point, first line of the error of a
            failed one, start time and host of a running one.
    """

    name: str
    state: str
    detail: str = ""


def study_status(runs_dir: Path) -> list[PointStatus]:
    """List the state of every point of the study in ``runs_dir``.

    Args:
        runs_dir: the study's run folder (``<output.dir>/<study>``).

    Returns:
        One entry per point, in the order of the sweep where it is known
        (from the submitted index), else by name.

    Raises:
        InvalidData: if ``runs_dir`` is not a folder.
    """
    if not runs_dir.is_dir():
        problem = Problem(
            source=str(runs_dir),
            message="no such folder",
            hint="give a study's run folder, e.g. runs/<study>",
        )
        raise InvalidData(problem)

    names = _indexed_points(runs_dir)
    for folder in sorted(runs_dir.iterdir()):
        if _is_point_folder(folder) and folder.name not in names:
            names.append(folder.name)
    return [_point_status(runs_dir / name) for name in names]


def format_status(statuses: list[PointStatus]) -> str:
    """Render the states as an aligned table, one point a line."""
    width = max([len("point")] + [len(status.name) for status in statuses])
    lines = [f"{'point':<{width}}  {'state':<11}  detail"]
    for status in statuses:
        lines.append(f"{status.name:<{width}}  {status.state:<11}  {status.detail}".rstrip())
    return "\n".join(lines)


def _indexed_points(runs_dir: Path) -> list[str]:
    index = runs_dir / POINTS_DIR / "points.txt"
    if not index.is_file():
        return []
    return [Path(line.strip()).stem for line in index.read_text().splitlines() if line.strip()]


def _is_point_folder(folder: Path) -> bool:
    return folder.is_dir() and any(
        (folder / name).exists() for name in (METRICS, FAILED, "provenance.json")
    )


def _point_status(folder: Path) -> PointStatus:
    metrics = _read_json(folder / METRICS)
    if metrics is not None:
        auc = (metrics.get("aggregate") or {}).get("test_auc_mean")
        detail = "test AUC n/a" if auc is None else f"test AUC {auc:.4f}"
        return PointStatus(folder.name, "finished", detail)

    failure = _read_json(folder / FAILED)
    if failure is not None:
        # Older failure records have no summary: take the error's first line.
        lines = str(failure.get("summary") or failure.get("error") or "").splitlines()
        return PointStatus(folder.name, "failed", lines[0] if lines else "no error recorded")

    provenance = _read_json(folder / "provenance.json")
    if provenance is not None:
        detail = f"started {provenance.get('started', '?')}"
        if provenance.get("host"):
            detail += f" on {provenance['host']}"
        return PointStatus(folder.name, "running", detail)
    return PointStatus(folder.name, "not started")


def _read_json(path: Path) -> dict | None:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None
