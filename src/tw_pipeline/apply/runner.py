"""``twpipe apply``: score HDF5 and ROOT files with a finished point's models.

Each input gets a new file of the same name in the output folder: every
original column or branch, plus the score. Inputs are only ever read. All
inputs are checked against the run (variables, their types, the fold rule)
before the first one is scored, and each output is written to a temporary
file that is renamed into place only when complete, so an interrupted call
leaves either a whole output or none.

Events are read, scored and written a block at a time, so memory stays
bounded whatever the size of a file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tw_pipeline.apply.bundle import RunBundle, default_score_name, read_run
from tw_pipeline.apply.plan import FilePlan, plan_inputs
from tw_pipeline.apply.progress import progress_bar
from tw_pipeline.data.detect import display_path
from tw_pipeline.errors import InvalidData, Problem
from tw_pipeline.run import atomic

__all__ = ["AppliedFile", "DEFAULT_CHUNK_ROWS", "apply_run"]

log = logging.getLogger(__name__)

# Events per block: a few tens of MB for a wide ntuple, and large enough
# that per-call costs of the network and the writers vanish.
DEFAULT_CHUNK_ROWS = 100_000


@dataclass(frozen=True)
class AppliedFile:
    """One scored output.

    Attributes:
        source: the input file.
        target: the output file written.
        tables: the tables or trees that got the score.
        events: the number of events scored.
        not_copied: objects of a ROOT input left out of the output.
    """

    source: Path
    target: Path
    tables: tuple[str, ...]
    events: int
    not_copied: tuple[str, ...] = ()


def apply_run(
    run_dir: Path | str,
    inputs: Sequence[Path | str],
    output_dir: Path | str,
    *,
    score_name: str | None = None,
    keys: Sequence[str] = (),
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    force: bool = False,
    progress: bool | None = None,
) -> list[AppliedFile]:
    """Score every input with the run's fold models and write scored copies.

    Args:
        run_dir: a finished point's run folder.
        inputs: HDF5 and ROOT files, any layout the load stage reads.
        output_dir: folder for the outputs; created if missing.
        score_name: the new column or branch; ``<study>_score`` by default.
        keys: tables or trees to score in each file; by default every one
            that holds the run's variables.
        chunk_rows: events per block.
        force: replace outputs that exist already.
        progress: show a progress bar; by default only on a terminal.

    Returns:
        One record per input, in the order given.

    Raises:
        InvalidData: when the run folder or an input does not fit (every
            problem of every input is listed), or a value met while scoring
            is unusable (e.g. an event number that is not a whole number).
    """
    if chunk_rows < 1:
        raise InvalidData(
            Problem(
                message=f"chunk size must be at least 1; got {chunk_rows}",
                path="--chunk-rows",
            )
        )
    bundle = read_run(run_dir)
    score_name = score_name or default_score_name(bundle.study)
    _check_score_name(score_name, bundle)
    plans = plan_inputs(
        bundle, inputs, output_dir, score_name=score_name, keys=keys, force=force
    )
    log.info("applying %s: %s", display_path(bundle.root), bundle.describe_rule())

    # Imported here: the scorer loads TensorFlow.
    from tw_pipeline.apply.scorer import FoldScorer

    scorer = FoldScorer(bundle)
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    results = []
    for number, plan in enumerate(plans, start=1):
        started = time.perf_counter()
        result = _apply_file(
            plan,
            bundle,
            scorer,
            score_name,
            chunk_rows,
            progress,
            f"{number}/{len(plans)}",
        )
        results.append(result)
        log.info(
            "file %d/%d: %s -> %s: %d events scored in %s (%.1fs)",
            number,
            len(plans),
            display_path(plan.source),
            display_path(plan.target),
            result.events,
            ", ".join(result.tables),
            time.perf_counter() - started,
        )
    return results


def _check_score_name(name: str, bundle: RunBundle) -> None:
    if not name or not name.replace("_", "a").isalnum() or name[0].isdigit():
        raise InvalidData(
            Problem(
                message=f"{name!r} is not a usable column name",
                path="--score-name",
                hint="use letters, digits and underscores, starting with a letter, "
                f"e.g. {default_score_name(bundle.study)!r}",
            )
        )


def _apply_file(
    plan: FilePlan,
    bundle: RunBundle,
    scorer,
    score_name: str,
    chunk_rows: int,
    progress: bool | None,
    label: str,
) -> AppliedFile:
    needed = list(bundle.variables)
    if bundle.event_number is not None:
        needed.append(bundle.event_number)
    events = sum(table.rows for table in plan.scored)
    non_finite = 0

    def score(columns, rows: int, source: str) -> np.ndarray:
        nonlocal non_finite
        scores = scorer.score(columns, rows, source)
        non_finite += int(rows - np.count_nonzero(np.isfinite(scores)))
        return scores

    description = f"file {label} {plan.source.name}"
    not_copied: list[str] = []
    with progress_bar(events, description, enabled=progress) as advance:
        with atomic.atomic_path(plan.target) as temporary:
            if plan.format == "root":
                from tw_pipeline.apply.root_out import write_scored_root

                not_copied = write_scored_root(
                    plan,
                    temporary,
                    score,
                    score_name,
                    chunk_rows=chunk_rows,
                    advance=advance,
                    info=_score_info(bundle, score_name),
                )
            else:
                from tw_pipeline.apply.hdf5_out import write_scored_hdf5

                write_scored_hdf5(
                    plan,
                    temporary,
                    score,
                    score_name,
                    needed,
                    chunk_rows=chunk_rows,
                    advance=advance,
                )
                _stamp_hdf5(temporary, plan, _score_info(bundle, score_name))

    if non_finite:
        log.warning(
            "%s: %d event(s) got a NaN score, because some of their inputs are "
            "NaN or infinite",
            display_path(plan.source),
            non_finite,
        )
    return AppliedFile(
        source=plan.source,
        target=plan.target,
        tables=tuple(table.key for table in plan.scored),
        events=events,
        not_copied=tuple(not_copied),
    )


def _score_info(bundle: RunBundle, score_name: str) -> dict[str, str]:
    """What an output records about its score: the run, its hash, the fold rule."""
    return {
        f"{score_name}_run": str(bundle.root.resolve()),
        f"{score_name}_config_hash": bundle.config_hash,
        f"{score_name}_fold_rule": bundle.describe_rule(),
    }


def _stamp_hdf5(path: Path, plan: FilePlan, info: dict[str, str]) -> None:
    """Write the score's record as attributes of each scored table."""
    import h5py

    with h5py.File(path, "a") as handle:
        for table in plan.scored:
            obj = handle["/" + table.key.strip("/")]
            for key, value in info.items():
                obj.attrs[key] = value
