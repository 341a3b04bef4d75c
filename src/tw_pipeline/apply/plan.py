"""Check the inputs of ``twpipe apply`` against the run before scoring any.

Each input file is opened, its tables (HDF5) or trees (ROOT) are listed and
the ones to score are chosen: those named with ``--key``, or else every table
that holds all of the run's variables (and the event-number column when the
fold rule needs it). Every problem of every input is collected and raised
together, so a list of thirty systematic-variation files is fixed in one go.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from tw_pipeline.apply.bundle import RunBundle
from tw_pipeline.data import hdf5, root
from tw_pipeline.data.detect import (
    FileFormat,
    TableInfo,
    check_columns,
    choose_table,
    detect_format,
    display_path,
    inspect_hint,
    source_label,
)
from tw_pipeline.errors import InvalidData, Problem

__all__ = ["FilePlan", "plan_inputs"]


@dataclass(frozen=True)
class FilePlan:
    """One input file and what will be written for it.

    Attributes:
        source: the input file.
        target: the output file, in the output folder, with the same name.
        format: "hdf5" or "root", by content.
        scored: the tables that get the score column.
        others: the file's other tables, copied without a score.
    """

    source: Path
    target: Path
    format: FileFormat
    scored: tuple[TableInfo, ...]
    others: tuple[TableInfo, ...]


def plan_inputs(
    bundle: RunBundle,
    inputs: Sequence[Path | str],
    output_dir: Path | str,
    *,
    score_name: str,
    keys: Sequence[str] = (),
    force: bool = False,
) -> list[FilePlan]:
    """Check every input and decide what to score in it.

    Args:
        bundle: the run whose models will score.
        inputs: the HDF5 and ROOT files to score.
        output_dir: the folder for the scored copies.
        score_name: the name of the new column or branch.
        keys: the tables or trees to score in every file; empty to score
            every table that holds the run's variables.
        force: replace output files that exist already.

    Returns:
        One plan per input, in the order given.

    Raises:
        InvalidData: listing every problem found: a missing file, key or
            variable (with the closest names), a variable that is not one
            number per event, a table that already has the score column, an
            output that would overwrite an input or another output.
    """
    output_dir = Path(output_dir)
    problems: list[Problem] = []
    plans: list[FilePlan] = []
    targets: dict[Path, Path] = {}
    sources = {Path(path).resolve() for path in inputs}

    for given in inputs:
        source = Path(given)
        target = output_dir / source.name
        try:
            plan = _plan_file(bundle, source, target, score_name, keys)
        except InvalidData as err:
            problems.extend(err.problems)
            continue

        resolved = target.resolve()
        if resolved in sources:
            problems.append(
                Problem(
                    message="the output would replace an input file",
                    source=display_path(target),
                    hint="choose another output folder with -o; inputs are never "
                    "modified",
                )
            )
        elif resolved in targets:
            problems.append(
                Problem(
                    message=(
                        f"two inputs would write the same output: "
                        f"{display_path(targets[resolved])} and {display_path(source)}"
                    ),
                    source=display_path(target),
                    hint="apply files of the same name in separate runs of "
                    "`twpipe apply` with different output folders",
                )
            )
        elif target.exists() and not force:
            problems.append(
                Problem(
                    message="exists already",
                    source=display_path(target),
                    hint="pass --force to replace it, or choose another output folder",
                )
            )
        targets[resolved] = source
        plans.append(plan)

    if problems:
        raise InvalidData(problems)
    return plans


def _plan_file(
    bundle: RunBundle,
    source: Path,
    target: Path,
    score_name: str,
    keys: Sequence[str],
) -> FilePlan:
    fmt = detect_format(source)
    if not os.access(source, os.R_OK):
        raise InvalidData(
            Problem(message="cannot be read", source=display_path(source))
        )
    if fmt == "root":
        tables = root.list_trees(source)
        wanted = [root.normalise_tree_name(key) for key in keys]
        what = "tree"
    else:
        tables = hdf5.list_tables(source)
        wanted = [hdf5.normalise_key(key) for key in keys]
        what = "key"

    needed, needed_by = _needed_columns(bundle)
    problems: list[Problem] = []
    if wanted:
        chosen = []
        for key in wanted:
            try:
                chosen.append(choose_table(source, key, tables, what=what))
            except InvalidData as err:
                problems.extend(err.problems)
    else:
        chosen = [table for table in tables if _fits(table, needed)]
        if not chosen:
            _explain_no_table(source, tables, needed, needed_by)

    for table in chosen:
        try:
            check_columns(source, table, needed, needed_by=needed_by)
        except InvalidData as err:
            problems.extend(err.problems)
        problems.extend(_writable_problems(source, table, score_name))
    if problems:
        raise InvalidData(problems)

    scored_keys = {table.key for table in chosen}
    others = tuple(table for table in tables if table.key not in scored_keys)
    return FilePlan(
        source=source,
        target=target,
        format=fmt,
        scored=tuple(chosen),
        others=others,
    )


def _needed_columns(bundle: RunBundle) -> tuple[list[str], dict[str, str]]:
    needed = list(bundle.variables)
    needed_by = {name: "the run's variables" for name in bundle.variables}
    if bundle.event_number is not None:
        needed.append(bundle.event_number)
        needed_by[bundle.event_number] = (
            "the run's data.event_number, for the fold rule"
        )
    return needed, needed_by


def _fits(table: TableInfo, needed: Sequence[str]) -> bool:
    return all(
        (column := table.column(name)) is not None and column.numeric for name in needed
    )


def _explain_no_table(
    source: Path,
    tables: Sequence[TableInfo],
    needed: Sequence[str],
    needed_by: dict[str, str],
) -> None:
    """Raise an error about the table that comes closest to holding the inputs."""
    if not tables:
        choose_table(source, None, tables)  # raises: the file holds no table
    closest = max(tables, key=lambda t: sum(t.column(n) is not None for n in needed))
    try:
        check_columns(source, closest, needed, needed_by=needed_by)
    except InvalidData as err:
        noun = "tree" if closest.is_tree else "table"
        first = err.problems[0]
        hint = (first.hint + "; " if first.hint else "") + (
            f"no {noun} of the file holds all of the run's inputs; this is the "
            f"closest. Name the {noun} to score with --key"
        )
        raise InvalidData([replace(first, hint=hint), *err.problems[1:]]) from None


def _writable_problems(
    source: Path, table: TableInfo, score_name: str
) -> list[Problem]:
    """What stops a table from being written back with its score."""
    problems = []
    item = "branch" if table.is_tree else "column"
    if table.column(score_name) is not None:
        problems.append(
            Problem(
                message=f"already has a {item} called {score_name!r}",
                source=source_label(source, table.key),
                hint=f"choose another name with --score-name, e.g. "
                f"{score_name + '_new'!r}",
            )
        )
    if table.layout == root.RNTUPLE:
        problems.append(
            Problem(
                message="is an RNTuple; `twpipe apply` writes TTrees only",
                source=source_label(source, table.key),
                hint="convert the file to TTrees first, or score a TTree version",
            )
        )
    elif table.is_tree:
        # uproot writes flat branches; a jagged or object branch could not be
        # copied, and dropping it silently would lose data.
        unwritable = [column for column in table.columns if not column.numeric]
        if unwritable:
            shown = ", ".join(f"{c.name!r} ({c.problem})" for c in unwritable[:5])
            more = f" and {len(unwritable) - 5} more" if len(unwritable) > 5 else ""
            problems.append(
                Problem(
                    message=(
                        f"has branches that are not one number per event: "
                        f"{shown}{more}; `twpipe apply` copies flat branches only"
                    ),
                    source=source_label(source, table.key),
                    hint=f"{inspect_hint(source, table.key)} lists the branches; "
                    "score a flat ntuple, or a version without these branches",
                )
            )
    return problems
