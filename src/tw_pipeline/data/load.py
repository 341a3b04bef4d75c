"""The load stage: every sample of a study, read into one :class:`Dataset`.

For each sample the stage reads, file by file and a block of rows at a time,
only the columns the study needs (variables, weight, event number, the
columns the selections use), applies ``data.selection`` and the sample's own
selection, and writes the surviving events straight into the float32 feature
matrix. Nothing is read before every file, key, column and selection of every
sample has been checked, and all problems found are reported together.

NaN and infinite values are looked for in the variables and the weight of
the events that pass the selections (values of events cut away never reach
training); ``data.non_finite`` says whether they stop the load or are dropped.
Negative weights are kept as they are: the training's policy for them is
applied later, by preprocessing.

Samples with ``class: systematic`` are loaded the same way into a dataset
of their own (``Dataset.systematic``); the column named by
``adversary.variable`` is read beside the variables of the other samples
(``Dataset.decorrelated``), checked for NaN and infinite values like them.

The result depends on ``study.data``, ``study.variables`` and
``adversary.variable`` only, so sweep points that share those can share one
load.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from tw_pipeline.data import hdf5, root
from tw_pipeline.data.dataset import Dataset, SampleSummary
from tw_pipeline.data.detect import (
    FileFormat,
    TableInfo,
    check_columns,
    detect_format,
    display_path,
    source_label,
)
from tw_pipeline.data.selection import Selection, parse_selection
from tw_pipeline.errors import InvalidData, Problem
from tw_pipeline.study.models import Sample, Study

__all__ = ["check_data", "data_fingerprint", "load_dataset", "read_columns"]

log = logging.getLogger(__name__)

Chunk = hdf5.Chunk
ChunkReader = Callable[..., Iterator[Chunk]]

_INFO: dict[FileFormat, Callable[[Path, str | None], TableInfo]] = {
    "hdf5": hdf5.table_info,
    "root": root.tree_info,
}
_CHUNKS: dict[FileFormat, ChunkReader] = {
    "hdf5": hdf5.iter_chunks,
    "root": root.iter_chunks,
}

# Row numbers quoted per column when values are NaN or infinite.
_ROWS_SHOWN = 5

# Largest float that still holds every whole number exactly (2**53).
_EXACT_FLOAT_LIMIT = 2.0**53


@dataclass(frozen=True)
class _Part:
    """One file of a sample, checked: its format and the table to read."""

    path: Path
    format: FileFormat
    info: TableInfo

    @property
    def label(self) -> str:
        return source_label(self.path, self.info.key)


@dataclass(frozen=True)
class _Plan:
    """What to read for one sample, after every check has passed."""

    name: str
    index: int
    sample: Sample
    parts: tuple[_Part, ...]
    selections: tuple[Selection, ...]
    columns: tuple[str, ...]


@dataclass
class _Tally:
    """Non-finite values of one column in one file."""

    nan: int = 0
    inf: int = 0
    overflow: int = 0
    rows: list[int] = field(default_factory=list)

    @property
    def events(self) -> int:
        return self.nan + self.inf + self.overflow


def load_dataset(study: Study) -> Dataset:
    """Read the samples of a study into one dataset of selected events.

    Args:
        study: a validated study whose sample file paths are absolute.

    Returns:
        The selected events of all samples, in study order, with one
        :class:`SampleSummary` per sample.

    Raises:
        InvalidData: when a file, key, column or selection is wrong, a column
            is not numeric, a sample has no event left after its selections,
            or values are NaN or infinite and ``data.non_finite`` is "fail".
            All such problems are collected and raised together.
    """
    plans = _plan(study)
    nominal = [plan for plan in plans if plan.sample.kind != "systematic"]
    varied = [plan for plan in plans if plan.sample.kind == "systematic"]

    dataset = _load_plans(
        study, nominal, study.data.nominal_samples(), _decorrelated(study)
    )
    if not varied:
        return dataset
    # Systematic samples are kept apart, so nothing that trains or evaluates
    # the classifier counts them as a class.
    systematic = _load_plans(study, varied, study.data.systematic_samples(), None)
    return replace(dataset, systematic=systematic)


def _load_plans(
    study: Study, plans: list[_Plan], names: list[str], decorrelated: str | None
) -> Dataset:
    """Read the planned samples into one dataset whose samples are ``names``.

    ``decorrelated`` names the column read beside the variables, or None.
    """
    # Every event read is at most one row of the result, so the arrays are
    # allocated once at that size and trimmed at the end. Pages never written
    # (events cut away) are never touched, so they cost no memory.
    capacity = sum(part.info.rows for plan in plans for part in plan.parts)
    output = _Output(
        capacity, len(study.variables), study.data.event_number, decorrelated
    )

    summaries: list[SampleSummary] = []
    problems: list[Problem] = []
    for plan in plans:
        try:
            summaries.append(_load_sample(study, plan, output))
        except InvalidData as err:
            problems.extend(err.problems)
    if problems:
        raise InvalidData(problems)

    return output.dataset(study, summaries, names)


def check_data(study: Study) -> dict[str, int]:
    """Check every file, key, column and selection of a study without reading events.

    Args:
        study: a validated study whose sample file paths are absolute.

    Returns:
        The number of events in the files of each sample, before selection.

    Raises:
        InvalidData: listing every problem found in any sample.
    """
    return {
        plan.name: sum(part.info.rows for part in plan.parts) for plan in _plan(study)
    }


def data_fingerprint(study: Study) -> str:
    """A cheap, stable fingerprint of a study's input files, for provenance.

    It hashes each file's path, size and modification time (not the
    content), so it changes when a file is replaced or rewritten and costs
    one ``stat`` per file.

    Args:
        study: a study whose sample file paths are absolute.

    Returns:
        A SHA-256 hex digest.

    Raises:
        InvalidData: when a file does not exist.
    """
    paths = sorted({str(path) for s in study.data.samples.values() for path in s.files})
    digest = hashlib.sha256()
    for path in paths:
        try:
            stat = Path(path).stat()
        except OSError as err:
            raise InvalidData(
                Problem(
                    message=f"cannot be read ({err.strerror or err})",
                    source=display_path(path),
                    hint="check the path; relative paths in a study are resolved "
                    "against the study file's folder",
                )
            ) from err
        digest.update(f"{path}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def read_columns(
    path: Path | str, key: str | None, columns: Sequence[str]
) -> dict[str, np.ndarray]:
    """Read whole columns of an HDF5 table or ROOT tree, whatever its layout.

    Args:
        path: the file; its format is decided by content.
        key: the table or tree; None when the file holds exactly one.
        columns: the columns to read; all must be numeric.

    Returns:
        One 1-D numpy array per name, in the stored type.

    Raises:
        InvalidData: when the file, key or a column is missing or unusable.
    """
    if detect_format(path) == "root":
        return root.read_columns(path, key, columns)
    return hdf5.read_columns(path, key, columns)


def _plan(study: Study) -> list[_Plan]:
    """Check all samples before reading any event; raise every problem at once."""
    data = study.data
    problems: list[Problem] = []

    common: list[Selection] = []
    if data.selection is not None:
        try:
            common.append(parse_selection(data.selection, origin="data.selection"))
        except InvalidData as err:
            problems.extend(err.problems)

    plans = []
    # A sample's index counts within its dataset: the nominal samples, or
    # the systematic ones, which are loaded into a dataset of their own.
    position = {
        name: index
        for names in (data.nominal_samples(), data.systematic_samples())
        for index, name in enumerate(names)
    }
    for name, sample in data.samples.items():
        try:
            plans.append(_plan_sample(study, position[name], name, sample, common))
        except InvalidData as err:
            problems.extend(err.problems)
    if problems:
        raise InvalidData(problems)
    return plans


def _plan_sample(
    study: Study, index: int, name: str, sample: Sample, common: list[Selection]
) -> _Plan:
    """Check one sample's selection, files, keys and columns."""
    data = study.data
    problems: list[Problem] = []

    selections = list(common)
    if sample.selection is not None:
        origin = f"data.samples.{name}.selection"
        try:
            selections.append(parse_selection(sample.selection, origin=origin))
        except InvalidData as err:
            problems.extend(err.problems)

    # Which study key asks for each column, to explain a missing one.
    needed_by: dict[str, str] = {}
    for variable in study.variables:
        needed_by.setdefault(variable, "variables")
    if data.weight is not None:
        needed_by.setdefault(data.weight, "data.weight")
    if data.event_number is not None:
        needed_by.setdefault(data.event_number, "data.event_number")
    decorrelated = _decorrelated(study)
    if decorrelated is not None and sample.kind != "systematic":
        needed_by.setdefault(decorrelated, "adversary.variable")
    for selection in selections:
        for column in selection.columns:
            needed_by.setdefault(column, selection.origin)
    columns = tuple(needed_by)

    parts = []
    seen: set[Path] = set()
    for path in sample.files:
        if path in seen:
            problems.append(
                Problem(
                    message="is listed twice; its events would count twice",
                    source=f"sample {name!r}, {display_path(path)}",
                    path=f"data.samples.{name}.files",
                    hint="list each file once",
                )
            )
            continue
        seen.add(path)
        try:
            fmt = detect_format(path)
            info = _INFO[fmt](path, sample.key)
            check_columns(path, info, columns, needed_by=needed_by)
            _check_event_number(path, info, data.event_number)
        except InvalidData as err:
            problems.extend(_in_sample(err, name).problems)
            continue
        parts.append(_Part(path=path, format=fmt, info=info))

    if problems:
        raise InvalidData(problems)
    return _Plan(
        name=name,
        index=index,
        sample=sample,
        parts=tuple(parts),
        selections=tuple(selections),
        columns=columns,
    )


def _decorrelated(study: Study) -> str | None:
    """The column the score is decorrelated from, read for the nominal samples."""
    adversary = study.adversary
    return None if adversary is None else adversary.variable


def _check_event_number(path: Path, info: TableInfo, column: str | None) -> None:
    """The event number must be a whole number; true/false is none."""
    if column is None:
        return
    found = info.column(column)
    if found is not None and found.dtype == "bool":
        raise InvalidData(
            Problem(
                message="holds true/false values; expected whole event numbers",
                source=source_label(path, info.key),
                path=f"column {column!r} (data.event_number)",
                hint="name the column that holds the event number",
            )
        )


def _in_sample(err: InvalidData, sample: str, label: str | None = None) -> InvalidData:
    """Name the sample (and file) in every problem of an error."""
    problems = []
    for problem in err.problems:
        if problem.source and problem.source.startswith("data."):
            # A selection failed on this file's values: say where, keep the key.
            where = f"sample {sample!r}, {label}" if label else f"sample {sample!r}"
            path = (
                problem.source
                if not problem.path
                else f"{problem.source}: {problem.path}"
            )
            problems.append(replace(problem, source=where, path=path))
        else:
            where = f"sample {sample!r}, {problem.source}" if problem.source else None
            problems.append(replace(problem, source=where or f"sample {sample!r}"))
    return InvalidData(problems)


class _Output:
    """The dataset's arrays, filled row block by row block."""

    def __init__(
        self,
        capacity: int,
        variables: int,
        event_number: str | None,
        decorrelated: str | None = None,
    ):
        self.features = np.empty((capacity, variables), dtype=np.float32)
        self.decorrelated = (
            np.empty(capacity, dtype=np.float64) if decorrelated is not None else None
        )
        self.weights = np.empty(capacity, dtype=np.float64)
        self.labels = np.empty(capacity, dtype=np.int8)
        self.sample_index = np.empty(capacity, dtype=np.int16)
        self.event_number = (
            np.empty(capacity, dtype=np.int64) if event_number is not None else None
        )
        self.size = 0

    def dataset(
        self, study: Study, summaries: list[SampleSummary], names: list[str]
    ) -> Dataset:
        """Trim the arrays to the rows written and wrap them."""
        size = self.size
        return Dataset(
            features=_trimmed(self.features, size),
            labels=_trimmed(self.labels, size),
            weights=_trimmed(self.weights, size),
            sample_index=_trimmed(self.sample_index, size),
            event_number=(
                None if self.event_number is None else _trimmed(self.event_number, size)
            ),
            variables=tuple(study.variables),
            sample_names=tuple(names),
            summaries=tuple(summaries),
            decorrelated=(
                None if self.decorrelated is None else _trimmed(self.decorrelated, size)
            ),
        )


def _trimmed(array: np.ndarray, rows: int) -> np.ndarray:
    """The first ``rows`` rows; the unused tail is freed without a copy if possible."""
    if array.shape[0] == rows:
        return array
    try:
        array.resize((rows, *array.shape[1:]), refcheck=True)
    except ValueError:
        # Someone else holds a view of the array: copy instead.
        return array[:rows].copy()
    return array


def _load_sample(study: Study, plan: _Plan, output: _Output) -> SampleSummary:
    """Read one sample's files into ``output``; return its bookkeeping."""
    first = output.size
    tallies: dict[tuple[str, str], _Tally] = {}
    read = 0

    for part in plan.parts:
        reader = _CHUNKS[part.format]
        row = 0
        try:
            for chunk in reader(part.path, part.info.key, plan.columns):
                rows = _chunk_rows(chunk, plan.columns)
                _take_chunk(study, plan, part, chunk, rows, row, output, tallies)
                row += rows
        except InvalidData as err:
            raise _in_sample(err, plan.name, part.label) from None
        read += part.info.rows

    selected = output.size - first
    problems = _non_finite_problems(study, plan, tallies)
    if problems:
        raise InvalidData(problems)
    if tallies:
        _log_dropped(plan.name, tallies)
    if selected == 0:
        raise InvalidData(_empty_problem(plan, read, dropped=bool(tallies)))

    # Stamp the sample's rows with its class and index.
    block = slice(first, output.size)
    # A systematic sample takes the class of the sample it varies.
    kind = plan.sample.kind
    if kind == "systematic":
        kind = study.data.samples[str(plan.sample.varies)].kind
    output.labels[block] = 1 if kind == "signal" else 0
    output.sample_index[block] = plan.index

    summary = _summarise(plan, output.weights[block], read)
    log.info(
        "sample %s (%s): %d of %d events selected from %d file(s); "
        "sum of weights %.6g, effective events %.1f, negative weights %d",
        plan.name,
        plan.sample.kind,
        summary.events_selected,
        summary.events_read,
        len(plan.parts),
        summary.sum_weights,
        summary.effective_events,
        summary.negative_weight_events,
    )
    if summary.sum_weights <= 0:
        log.warning(
            "sample %s: the sum of its weights is %.6g; check data.weight and "
            "the sample's scale",
            plan.name,
            summary.sum_weights,
        )
    return summary


def _chunk_rows(chunk: Chunk, columns: Sequence[str]) -> int:
    if isinstance(chunk, np.ndarray):
        return int(chunk.shape[0])
    return int(len(chunk[columns[0]]))


def _take_chunk(
    study: Study,
    plan: _Plan,
    part: _Part,
    chunk: Chunk,
    rows: int,
    first_row: int,
    output: _Output,
    tallies: dict[tuple[str, str], _Tally],
) -> None:
    """Select one block of rows and write it into the output arrays."""
    data = study.data
    variables = study.variables

    # Which rows pass every selection (all rows when there is none).
    picked: np.ndarray | None = None
    if plan.selections:
        # Not in place: a selection that is a bare true/false column returns
        # that column itself, which must not be overwritten.
        mask = plan.selections[0].evaluate(_columns(chunk, plan.selections[0]), rows)
        for selection in plan.selections[1:]:
            mask = mask & selection.evaluate(_columns(chunk, selection), rows)
        picked = np.flatnonzero(mask)
        if picked.size == 0:
            return
        if picked.size < rows:
            chunk = _take(chunk, picked, plan.columns)
        else:
            picked = None
    count = rows if picked is None else int(picked.size)

    # Features, weights and event numbers go straight to their final place.
    start = output.size
    features = output.features[start : start + count]
    _fill_features(chunk, variables, features)
    weights = output.weights[start : start + count]
    if data.weight is not None:
        weights[...] = chunk[data.weight]
    else:
        weights.fill(1.0)
    events = None
    if output.event_number is not None and data.event_number is not None:
        events = output.event_number[start : start + count]
        _fill_event_numbers(chunk[data.event_number], events, part, data.event_number)
    extra = None
    if output.decorrelated is not None:
        extra = output.decorrelated[start : start + count]
        extra[...] = chunk[str(_decorrelated(study))]

    clean = bool(np.isfinite(features).all() and np.isfinite(weights).all())
    if extra is not None:
        clean = clean and bool(np.isfinite(extra).all())
    if not clean:
        count = _handle_non_finite(
            study, part, chunk, picked, first_row, features, weights, events, tallies,
            extra,
        )

    if plan.sample.scale != 1.0:
        weights[:count] *= plan.sample.scale
    output.size += count


def _columns(chunk: Chunk, selection: Selection) -> dict[str, np.ndarray]:
    """The columns a selection reads, as a plain dict."""
    return {name: chunk[name] for name in selection.columns}


def _take(chunk: Chunk, picked: np.ndarray, columns: Sequence[str]) -> Chunk:
    """The picked rows of a chunk (a copy, so the reader may reuse its buffer)."""
    if isinstance(chunk, np.ndarray):
        return chunk[picked]
    return {name: chunk[name][picked] for name in columns}


def _fill_features(chunk: Chunk, variables: Sequence[str], out: np.ndarray) -> None:
    """Write the variables of a chunk, as float32, into ``out`` (rows x variables)."""
    if isinstance(chunk, np.ndarray):
        # Seen as one record of float32 fields per row, ``out`` takes a
        # structured assignment, which numpy casts field by field in one pass.
        packed = np.dtype([(name, np.float32) for name in variables])
        out.view(packed)[:, 0] = chunk[list(variables)]
        return

    # Columns arrive as separate arrays: cast each into a contiguous row of a
    # transposed buffer, then copy it across at once. Writing each column
    # into the strided output directly is several times slower.
    buffer = np.empty((len(variables), out.shape[0]), dtype=np.float32)
    for position, name in enumerate(variables):
        buffer[position] = chunk[name]
    out[...] = buffer.T


def _fill_event_numbers(
    values: np.ndarray, out: np.ndarray, part: _Part, column: str
) -> None:
    """Copy event numbers as int64, refusing values that are not whole numbers."""
    kind = values.dtype.kind
    if kind == "u" and values.size and values.max() > np.iinfo(np.int64).max:
        raise _event_number_problem(part, column, "values beyond 2^63")
    if kind == "f":
        whole = np.isfinite(values) & (np.floor(values) == values)
        if not whole.all():
            raise _event_number_problem(
                part, column, "values that are not whole numbers"
            )
        if values.size and np.abs(values).max() >= _EXACT_FLOAT_LIMIT:
            raise _event_number_problem(
                part, column, "floats too large to hold whole numbers exactly"
            )
    out[...] = values


def _event_number_problem(part: _Part, column: str, found: str) -> InvalidData:
    return InvalidData(
        Problem(
            message=f"holds {found}; expected whole event numbers",
            source=part.label,
            path=f"column {column!r} (data.event_number)",
            hint="name the column that holds the event number, or leave "
            "data.event_number out to assign folds at random",
        )
    )


def _handle_non_finite(
    study: Study,
    part: _Part,
    chunk: Chunk,
    picked: np.ndarray | None,
    first_row: int,
    features: np.ndarray,
    weights: np.ndarray,
    events: np.ndarray | None,
    tallies: dict[tuple[str, str], _Tally],
    extra: np.ndarray | None = None,
) -> int:
    """Count NaN/inf per column; when dropping, compact the good rows.

    ``extra`` holds the values of ``adversary.variable``, checked and
    compacted like the variables.

    Returns:
        The number of rows kept.
    """
    data = study.data
    bad_features = ~np.isfinite(features)
    bad_weights = ~np.isfinite(weights)
    positions = np.arange(features.shape[0]) if picked is None else picked
    table_rows = first_row + positions

    checked = [(name, bad_features[:, j]) for j, name in enumerate(study.variables)]
    if data.weight is not None:
        checked.append((data.weight, bad_weights))
    bad_extra = np.zeros(features.shape[0], dtype=bool)
    if extra is not None:
        bad_extra = ~np.isfinite(extra)
        checked.append((str(_decorrelated(study)), bad_extra))
    for name, bad in checked:
        if not bad.any():
            continue
        stored = np.asarray(chunk[name], dtype=np.float64)[bad]
        tally = tallies.setdefault((part.label, name), _Tally())
        tally.nan += int(np.isnan(stored).sum())
        tally.inf += int(np.isinf(stored).sum())
        tally.overflow += int(np.isfinite(stored).sum())
        room = _ROWS_SHOWN - len(tally.rows)
        if room > 0:
            tally.rows.extend(int(r) for r in table_rows[bad][:room])

    if data.non_finite == "fail":
        return features.shape[0]

    keep = ~(bad_features.any(axis=1) | bad_weights | bad_extra)
    kept = int(keep.sum())
    features[:kept] = features[keep]
    weights[:kept] = weights[keep]
    if events is not None:
        events[:kept] = events[keep]
    if extra is not None:
        extra[:kept] = extra[keep]
    return kept


def _non_finite_problems(
    study: Study, plan: _Plan, tallies: dict[tuple[str, str], _Tally]
) -> list[Problem]:
    """One problem per file and column with NaN/inf, when the study says fail."""
    if study.data.non_finite != "fail":
        return []
    problems = []
    for (label, name), tally in tallies.items():
        found = []
        if tally.nan:
            found.append(f"{tally.nan} NaN")
        if tally.inf:
            found.append(f"{tally.inf} infinite")
        if tally.overflow:
            found.append(f"{tally.overflow} too large for float32")
        rows = ", ".join(str(row) for row in tally.rows)
        more = ", ..." if tally.events > len(tally.rows) else ""
        problems.append(
            Problem(
                message=(
                    f"{' and '.join(found)} value(s) among the selected events "
                    f"(table rows {rows}{more}); expected finite numbers"
                ),
                source=f"sample {plan.name!r}, {label}",
                path=f"column {name!r}",
                hint="fix the ntuple, tighten the selection, or set "
                "data.non_finite: drop to leave these events out",
            )
        )
    return problems


def _log_dropped(sample: str, tallies: dict[tuple[str, str], _Tally]) -> None:
    per_column: dict[str, int] = {}
    for (_, name), tally in tallies.items():
        per_column[name] = per_column.get(name, 0) + tally.events
    shown = ", ".join(f"{name}: {count}" for name, count in per_column.items())
    log.warning(
        "sample %s: dropped events with NaN or infinite values (%s)", sample, shown
    )


def _empty_problem(plan: _Plan, read: int, *, dropped: bool) -> Problem:
    """Why a sample ended up without events, and what to change."""
    source = f"sample {plan.name!r}"
    files = ", ".join(part.label for part in plan.parts)
    if read == 0:
        return Problem(
            message=f"its files hold no events ({files})",
            source=source,
            hint="check that the files and key are the intended ones",
        )
    if dropped and not plan.selections:
        return Problem(
            message=f"every one of its {read} events has NaN or infinite values",
            source=source,
            hint="fix the ntuple; data.non_finite: drop left nothing",
        )
    texts = " and ".join(repr(s.text) for s in plan.selections)
    origins = ", ".join(s.origin for s in plan.selections)
    return Problem(
        message=(
            f"no event passes the selection {texts} ({read} events read from {files})"
        ),
        source=source,
        path=origins,
        hint="loosen the selection, or check the columns' values and types "
        "with `twpipe inspect`",
    )


def _summarise(plan: _Plan, weights: np.ndarray, read: int) -> SampleSummary:
    """Sum of weights and effective number of events, (sum w)^2 / sum w^2."""
    total = float(weights.sum())
    squares = float(np.dot(weights, weights))
    effective = total * total / squares if squares > 0 else 0.0
    return SampleSummary(
        name=plan.name,
        kind=plan.sample.kind,
        files=tuple(str(part.path) for part in plan.parts),
        events_read=read,
        events_selected=int(weights.shape[0]),
        sum_weights=total,
        effective_events=effective,
        negative_weight_events=int(np.count_nonzero(weights < 0)),
    )
