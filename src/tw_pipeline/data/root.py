"""Trees of events in ROOT files, read with uproot.

A sample names its tree (``nominal``, or ``folder/nominal`` inside a
TDirectory); the cycle number (``;1``) may be left out, and the highest cycle
is read, as ROOT does. Flat branches, one number per event, can be inputs,
weights or selection columns. Jagged branches, fixed-size arrays, strings and
objects are listed by :func:`list_trees` but refused when read. RNTuples, the
successor of TTree that recent uproot writes by default, are read the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import uproot

from tw_pipeline.data.detect import (
    Column,
    TableInfo,
    check_columns,
    choose_table,
    display_path,
    file_not_found,
    source_label,
)
from tw_pipeline.errors import InvalidData, Problem

__all__ = [
    "iter_chunks",
    "list_trees",
    "normalise_tree_name",
    "read_columns",
    "tree_info",
]

log = logging.getLogger(__name__)

TTREE = "ROOT TTree"
RNTUPLE = "ROOT RNTuple"

_TREE_CLASSES = {
    "TTree": TTREE,
    "TNtuple": TTREE,
    "TNtupleD": TTREE,
    "ROOT::RNTuple": RNTUPLE,
}

# Rows handed on per chunk. uproot reads whole baskets anyway, so the
# columns are read in one call and handed on in slices of this many rows,
# which keeps the conversion to float32 inside the CPU caches.
_CHUNK_ROWS = 65536

_NUMERIC_KINDS = "biuf"


def normalise_tree_name(key: str | None) -> str | None:
    """Drop the cycle (``;1``) and outer slashes from a tree name."""
    if key is None:
        return None
    return key.strip().split(";", 1)[0].strip("/")


def list_trees(path: Path | str) -> list[TableInfo]:
    """Describe every TTree and RNTuple of a ROOT file, in folders too.

    Args:
        path: the ROOT file.

    Returns:
        One :class:`TableInfo` per tree.

    Raises:
        InvalidData: when the file cannot be opened as ROOT.
    """
    with _open(path) as handle:
        return [_describe(handle[name], name) for name in _tree_names(handle)]


def tree_info(path: Path | str, key: str | None) -> TableInfo:
    """Describe the tree a sample names (or the file's only tree).

    Args:
        path: the ROOT file.
        key: the tree name; None when the file holds one tree.

    Returns:
        The tree's :class:`TableInfo`.

    Raises:
        InvalidData: when the file cannot be opened or the tree is missing
            (the message lists the file's trees, closest first).
    """
    with _open(path) as handle:
        return _describe(*_resolve(handle, Path(path), key))


def iter_chunks(
    path: Path | str,
    key: str | None,
    columns: Sequence[str],
    *,
    chunk_rows: int | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """Read the named branches of a tree, handed on a block of rows at a time.

    Args:
        path: the ROOT file.
        key: the tree name; None when the file holds one tree.
        columns: the branch names; all must be flat numeric branches.
        chunk_rows: rows per chunk handed on (the branches are read whole).

    Yields:
        Dicts of 1-D numpy arrays, one per name, in row order.

    Raises:
        InvalidData: when the file, tree or a branch is missing, a branch is
            not one number per event, or the file cannot be read.
    """
    path = Path(path)
    with _open(path) as handle:
        tree, name = _resolve(handle, path, key)
        info = _describe(tree, name)
        check_columns(path, info, columns)
        if not columns or info.rows == 0:
            return
        try:
            arrays = tree.arrays(list(columns), library="np")
        except Exception as err:  # uproot raises many kinds on damaged files
            raise _unreadable(path, name, err) from err

        step = chunk_rows or _CHUNK_ROWS
        for start in range(0, info.rows, step):
            stop = min(start + step, info.rows)
            yield {column: arrays[column][start:stop] for column in columns}


def read_columns(
    path: Path | str, key: str | None, columns: Sequence[str]
) -> dict[str, np.ndarray]:
    """Read whole branches of a tree into numpy arrays.

    Args:
        path: the ROOT file.
        key: the tree name; None when the file holds one tree.
        columns: the branch names.

    Returns:
        One 1-D array per name.

    Raises:
        InvalidData: as :func:`iter_chunks`.
    """
    parts = list(iter_chunks(path, key, columns, chunk_rows=2**62))
    if not parts:
        info = tree_info(path, key)
        return {name: np.empty(0, dtype=_dtype_of(info, name)) for name in columns}
    return parts[0]


def _dtype_of(info: TableInfo, name: str) -> np.dtype:
    column = info.column(name)
    try:
        return np.dtype(column.dtype) if column is not None else np.dtype("f8")
    except TypeError:
        return np.dtype("f8")


def _open(path: Path | str) -> Any:
    """Open a ROOT file, turning uproot's failures into a data error."""
    try:
        return uproot.open(path)
    except FileNotFoundError:
        raise file_not_found(path) from None
    except Exception as err:  # uproot raises many kinds on damaged files
        raise InvalidData(
            Problem(
                message=f"cannot be opened as ROOT ({type(err).__name__}: {err})",
                source=display_path(path),
                hint="the file may be truncated (an interrupted copy?)",
            )
        ) from err


def _unreadable(path: Path, name: str, err: Exception) -> InvalidData:
    return InvalidData(
        Problem(
            message=f"reading failed ({type(err).__name__}: {err})",
            source=source_label(path, name),
            hint="the file may be damaged or truncated; try copying it again",
        )
    )


def _tree_names(handle: Any) -> list[str]:
    """Names of all trees, in folders too, without cycles."""
    classes = handle.classnames(recursive=True, cycle=False)
    return [name for name, kind in classes.items() if kind in _TREE_CLASSES]


def _resolve(handle: Any, path: Path, key: str | None) -> tuple[Any, str]:
    """The tree object and its name, or an error listing the file's trees."""
    names = _tree_names(handle)
    key = normalise_tree_name(key)
    if key is not None and key in names:
        return handle[key], key

    # Describing every tree costs little next to reading one, and lets the
    # message list what the file does hold.
    tables = [_describe(handle[name], name) for name in names]
    info = choose_table(path, key, tables, what="tree")
    return handle[info.key], info.key


def _describe(tree: Any, name: str) -> TableInfo:
    """A tree's branches as columns, flagging those that are not flat numbers."""
    classname = getattr(tree, "classname", "TTree")
    layout = _TREE_CLASSES.get(classname, TTREE)
    if layout == RNTUPLE:
        columns = _rntuple_columns(tree)
    else:
        columns = [_branch_column(tree[branch], branch) for branch in tree.keys()]
    return TableInfo(
        key=name, layout=layout, rows=int(tree.num_entries), columns=tuple(columns)
    )


def _branch_column(branch: Any, name: str) -> Column:
    """One TTree branch; only AsDtype with no inner shape is a flat number."""
    typename = str(getattr(branch, "typename", "?"))
    try:
        interpretation = branch.interpretation
    except Exception:  # uproot cannot interpret some exotic branches at all
        return Column(name, typename, "a type uproot cannot read")

    kind = type(interpretation).__name__
    if kind in ("AsDtype", "AsDouble32", "AsFloat16"):
        if interpretation.inner_shape:
            shape = "x".join(str(n) for n in interpretation.inner_shape)
            return Column(name, typename, f"an array of {shape} values per event")
        if interpretation.to_dtype.kind in _NUMERIC_KINDS:
            return Column(name, str(interpretation.to_dtype), None)
        return Column(name, typename, f"values of type {interpretation.to_dtype}")
    problems = {
        "AsJagged": "a variable-length array per event",
        "AsStrings": "text",
        "AsObjects": "C++ objects",
        "AsGrouped": "a group of sub-branches",
    }
    return Column(name, typename, problems.get(kind, f"a type uproot reads as {kind}"))


def _rntuple_columns(ntuple: Any) -> list[Column]:
    """Top-level RNTuple fields; primitive ones are flat numbers."""
    form = ntuple.to_akform()
    form = form[0] if isinstance(form, tuple) else form
    typenames = ntuple.typenames()
    columns = []
    for field, content in zip(form.fields, form.contents, strict=True):
        typename = str(typenames.get(field, "?"))
        primitive = getattr(content, "primitive", None)
        if type(content).__name__ == "NumpyForm" and not content.inner_shape:
            if np.dtype(primitive).kind in _NUMERIC_KINDS:
                columns.append(Column(field, str(np.dtype(primitive)), None))
                continue
        problem = {
            "ListOffsetForm": "a variable-length array per event",
            "RegularForm": "a fixed-size array per event",
            "RecordForm": "a record per event",
        }.get(type(content).__name__, "a type twpipe cannot use as an input")
        columns.append(Column(field, typename, problem))
    return columns
