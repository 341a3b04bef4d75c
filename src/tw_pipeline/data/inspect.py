"""What an ntuple holds, so that a study's data section needs no guessing.

:func:`describe_file` lists the tables (HDF5) or trees (ROOT) of a file with
their layout, number of events and columns with types; :func:`format_description`
renders that as the listing ``twpipe inspect FILE [KEY]`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tw_pipeline.data import hdf5, root
from tw_pipeline.data.detect import (
    FileFormat,
    TableInfo,
    choose_table,
    detect_format,
    display_path,
)

__all__ = ["FileDescription", "describe_file", "format_description"]

_FORMAT_NAMES = {"hdf5": "HDF5", "root": "ROOT"}


@dataclass(frozen=True)
class FileDescription:
    """The tables of one data file.

    Attributes:
        path: the file, as the user would type it.
        format: "hdf5" or "root", decided by the file's content.
        size_bytes: the file's size on disk.
        tables: the tables or trees described: all of them, or the one
            asked for.
        tables_in_file: how many tables or trees the file holds in all.
    """

    path: str
    format: FileFormat
    size_bytes: int
    tables: tuple[TableInfo, ...]
    tables_in_file: int


def describe_file(path: Path | str, key: str | None = None) -> FileDescription:
    """Describe the tables of an HDF5 or ROOT file, or one of them.

    Args:
        path: the file.
        key: a table (HDF5 key) or tree name to describe alone; None for all.

    Returns:
        The file's description.

    Raises:
        InvalidData: when the file is missing, is neither HDF5 nor ROOT, cannot
            be opened, or holds no table called ``key`` (the message lists the
            tables it has, closest first).
    """
    path = Path(path)
    fmt = detect_format(path)
    if fmt == "root":
        tables = root.list_trees(path)
        wanted = root.normalise_tree_name(key)
        what = "tree"
    else:
        tables = hdf5.list_tables(path)
        wanted = hdf5.normalise_key(key)
        what = "key"

    in_file = len(tables)
    if wanted is not None:
        tables = [choose_table(path, wanted, tables, what=what)]
    return FileDescription(
        path=display_path(path),
        format=fmt,
        size_bytes=path.stat().st_size,
        tables=tuple(tables),
        tables_in_file=in_file,
    )


def format_description(description: FileDescription) -> str:
    """Render a file description as a listing for the terminal.

    Args:
        description: what :func:`describe_file` returned.

    Returns:
        Lines of text, without a trailing newline: a header for the file,
        then per table its key, layout, events and columns with their types.
        Columns that cannot be inputs say why.
    """
    count = description.tables_in_file
    noun = "tree" if description.format == "root" else "table"
    header = (
        f"{description.path}: {_FORMAT_NAMES[description.format]}, "
        f"{_size(description.size_bytes)}, {count} {noun}{'s' if count != 1 else ''}"
    )
    if len(description.tables) < count:
        header += f" (showing {', '.join(t.key for t in description.tables)})"
    lines = [header]
    if not description.tables:
        lines.append(f"  (no {noun} of events found)")

    for table in description.tables:
        item = "branch" if table.is_tree else "column"
        items = f"{item}{'es' if table.is_tree else 's'}"
        lines.append("")
        lines.append(
            f"{table.key}  ({table.layout}, {table.rows:,} events, "
            f"{len(table.columns)} {items})"
        )
        name_width = max((len(column.name) for column in table.columns), default=0)
        type_width = max((len(column.dtype) for column in table.columns), default=0)
        for column in table.columns:
            line = f"  {column.name:<{name_width}}  {column.dtype:<{type_width}}"
            if column.problem is not None:
                line += f"  {column.problem}; not usable as an input"
            lines.append(line.rstrip())
    return "\n".join(lines)


def _size(size: int) -> str:
    """A byte count in the largest unit that keeps it above one."""
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
