"""What an input file is: its format, judged by content, and the tables inside.

Ntuples arrive with misleading names (``.h5`` files that are ROOT files,
``.root.1`` from a grid download), so the format is decided by the file's
first bytes. Both readers (:mod:`.hdf5`, :mod:`.root`) describe what they find
with the same small records, :class:`TableInfo` and :class:`Column`, and pick
the table a sample asks for with :func:`choose_table`, so that a missing key
reads the same whatever the format.
"""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tw_pipeline.errors import InvalidData, Problem, did_you_mean

__all__ = [
    "Column",
    "FileFormat",
    "TableInfo",
    "check_columns",
    "choose_table",
    "closest_first",
    "detect_format",
    "display_path",
    "file_not_found",
    "inspect_hint",
    "source_label",
]

FileFormat = Literal["hdf5", "root"]

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ROOT_SIGNATURE = b"root"

# HDF5 allows a user block before the superblock; the signature then sits at
# 512, 1024, 2048, ... bytes.
_FIRST_USER_BLOCK = 512

# Keys listed in a "not in the file" message before cutting the list short.
_KEYS_SHOWN = 12


@dataclass(frozen=True)
class Column:
    """One column of a table, as found in the file.

    Attributes:
        name: the column name, decoded to text.
        dtype: the stored type (numpy name, or the ROOT type name).
        problem: why the column cannot be an input ("text", "variable-length
            array per event", ...), or None when it is a plain number.
    """

    name: str
    dtype: str
    problem: str | None = None

    @property
    def numeric(self) -> bool:
        """Whether the column holds one number (or true/false) per event."""
        return self.problem is None


@dataclass(frozen=True)
class TableInfo:
    """One table (HDF5) or tree (ROOT) of a file: one row per event.

    Attributes:
        key: the name to give as ``key`` in a study, e.g. ``tt_nominal`` or
            ``nominal/ttbar`` (HDF5 group path without the leading slash;
            ROOT tree name, with folders, without the cycle).
        layout: how the table is stored, e.g. "pandas table", "ROOT TTree".
        rows: the number of events.
        columns: the columns, in file order.
    """

    key: str
    layout: str
    rows: int
    columns: tuple[Column, ...]

    @property
    def is_tree(self) -> bool:
        """Whether this is a ROOT tree, whose columns ROOT users call branches."""
        return self.layout.startswith("ROOT")

    @property
    def names(self) -> list[str]:
        """The column names, in file order."""
        return [column.name for column in self.columns]

    def column(self, name: str) -> Column | None:
        """Return the column called ``name``, or None."""
        for column in self.columns:
            if column.name == name:
                return column
        return None


def detect_format(path: Path | str) -> FileFormat:
    """Tell HDF5 from ROOT by the file's signature, not by its name.

    Args:
        path: the file.

    Returns:
        "hdf5" or "root".

    Raises:
        InvalidData: when the file does not exist, cannot be read, or is
            neither an HDF5 nor a ROOT file.
    """
    path = Path(path)
    if not path.exists():
        raise file_not_found(path)
    if path.is_dir():
        raise InvalidData(
            Problem(
                message="is a folder, not a data file",
                source=display_path(path),
                hint="list the HDF5 or ROOT files of the folder one by one",
            )
        )

    try:
        with path.open("rb") as handle:
            head = handle.read(len(HDF5_SIGNATURE))
            if head.startswith(ROOT_SIGNATURE):
                return "root"
            if head == HDF5_SIGNATURE or _has_hdf5_user_block(handle, path):
                return "hdf5"
    except OSError as err:
        raise InvalidData(
            Problem(
                message=f"cannot be read ({err.strerror or err})",
                source=display_path(path),
                hint="check the file's permissions",
            )
        ) from err

    shown = head[:8]
    raise InvalidData(
        Problem(
            message=f"is neither an HDF5 nor a ROOT file (it starts with {shown!r})",
            source=display_path(path),
            hint="twpipe reads HDF5 files (pandas, PyTables, h5py) and ROOT "
            "files; an empty or truncated file also ends up here",
        )
    )


def _has_hdf5_user_block(handle: object, path: Path) -> bool:
    """Look for the HDF5 signature after a user block of 512, 1024, ... bytes."""
    size = path.stat().st_size
    offset = _FIRST_USER_BLOCK
    while offset + len(HDF5_SIGNATURE) <= size:
        handle.seek(offset)  # type: ignore[attr-defined]
        if handle.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:  # type: ignore[attr-defined]
            return True
        offset *= 2
    return False


def file_not_found(path: Path | str) -> InvalidData:
    """The error for an input file that does not exist."""
    return InvalidData(
        Problem(
            message="file not found",
            source=display_path(path),
            hint="check the path; relative paths in a study are resolved "
            "against the study file's folder",
        )
    )


def display_path(path: Path | str) -> str:
    """The path as a user would type it: relative to the working folder if inside."""
    path = Path(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def source_label(path: Path | str, key: str | None) -> str:
    """Name a table for messages: ``data/tt.h5 [tt_nominal]``."""
    shown = display_path(path)
    return f"{shown} [{key}]" if key is not None else shown


def inspect_hint(path: Path | str, key: str | None = None) -> str:
    """The command that lists what a file (or one of its tables) holds."""
    words = ["twpipe", "inspect", display_path(path)]
    if key is not None:
        words.append(key)
    return "run `" + " ".join(shlex.quote(word) for word in words) + "`"


def closest_first(name: str, choices: Sequence[str]) -> list[str]:
    """Sort ``choices`` by their similarity to ``name``, most similar first."""

    def similarity(choice: str) -> float:
        return difflib.SequenceMatcher(None, name.lower(), choice.lower()).ratio()

    return sorted(choices, key=lambda choice: (-similarity(choice), choice))


def choose_table(
    path: Path | str,
    key: str | None,
    tables: Sequence[TableInfo],
    *,
    what: str = "key",
) -> TableInfo:
    """Pick the table a sample names, or the only table when it names none.

    Args:
        path: the file, for messages.
        key: the requested key or tree name, already normalised by the
            reader; None to take the file's only table.
        tables: the tables the file holds.
        what: the word for a table's name in messages ("key" or "tree").

    Returns:
        The chosen table.

    Raises:
        InvalidData: when the key is not in the file (listing the keys the
            file has, closest first), when the file holds no table, or when
            no key is given and the file holds several tables.
    """
    keys = [table.key for table in tables]
    noun = "tree" if what == "tree" else "table"
    if not tables:
        raise InvalidData(
            Problem(
                message="holds no table of events",
                source=display_path(path),
                hint=f"{inspect_hint(path)} to see what the file contains",
            )
        )

    if key is None:
        if len(tables) == 1:
            return tables[0]
        raise InvalidData(
            Problem(
                message=f"holds {len(tables)} {noun}s and no {what} was given",
                source=display_path(path),
                hint=f"set the sample's key to one of: {_listing(keys)}",
            )
        )

    for table in tables:
        if table.key == key:
            return table
    ordered = closest_first(key, keys)
    suggestion = did_you_mean(key, keys)
    prefix = f"{suggestion} " if suggestion else ""
    plural = "s" if len(keys) != 1 else ""
    raise InvalidData(
        Problem(
            message="not in the file",
            source=display_path(path),
            path=f"{what} {key!r}",
            hint=(
                f"{prefix}The file holds {len(keys)} {noun}{plural}, closest "
                f"first: {_listing(ordered)}; {inspect_hint(path)}"
            ),
        )
    )


def check_columns(
    path: Path | str,
    info: TableInfo,
    names: Sequence[str],
    *,
    needed_by: Mapping[str, str] | None = None,
) -> None:
    """Refuse missing and non-numeric columns, all of them in one error.

    Args:
        path: the file, for messages.
        info: the table the columns should be in.
        names: the columns about to be read.
        needed_by: optional study key that asks for each column
            (``variables``, ``data.weight``), to say why it is needed.

    Raises:
        InvalidData: listing every missing column with the closest existing
            names, and every column that does not hold one number per event.
    """
    needed_by = needed_by or {}
    problems = []
    for name in names:
        column = info.column(name)
        why = f" (named in {needed_by[name]})" if name in needed_by else ""
        item, table = ("branch", "tree") if info.is_tree else ("column", "table")
        if column is None:
            suggestion = did_you_mean(name, info.names)
            prefix = f"{suggestion} " if suggestion else ""
            problems.append(
                Problem(
                    message=f"not in the {table}{why}",
                    source=source_label(path, info.key),
                    path=f"{item} {name!r}",
                    hint=(
                        f"{prefix}The {table} has {len(info.columns)} "
                        f"{item}{'es' if info.is_tree else 's'}; "
                        f"{inspect_hint(path, info.key)}"
                    ),
                )
            )
        elif not column.numeric:
            problems.append(
                Problem(
                    message=(
                        f"holds {column.problem} ({column.dtype}){why}; expected "
                        "one number or true/false per event"
                    ),
                    source=source_label(path, info.key),
                    path=f"{item} {name!r}",
                    hint="use a numeric one, or convert this one when writing "
                    "the ntuple",
                )
            )
    if problems:
        raise InvalidData(problems)


def _listing(keys: Sequence[str]) -> str:
    """Comma-separated keys, cut short after a dozen."""
    shown = ", ".join(keys[:_KEYS_SHOWN])
    if len(keys) > _KEYS_SHOWN:
        shown += f", ... ({len(keys) - _KEYS_SHOWN} more)"
    return shown
