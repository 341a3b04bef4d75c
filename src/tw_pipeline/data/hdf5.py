"""Tables of events in HDF5 files, whichever library wrote them.

Five layouts are recognised, all read through h5py:

* **pandas table** (``to_hdf(format="table")``): a group whose ``table``
  dataset is a compound array; several columns may share one field
  (``values_block_0``) and their names sit in pickled attributes.
* **pandas fixed** (``to_hdf(format="fixed")``): a group with one 2-D
  dataset per dtype block (``block0_values``) and the names in
  ``block0_items``, stored as bytes.
* **PyTables table** and **compound dataset**: a 1-D compound (structured)
  dataset anywhere in the file, one field per column.
* **group of datasets**: a group of equal-length 1-D datasets, one per
  column, as h5py users often write.

Column names stored as bytes (pandas always does for fixed format; Python 2
did for everything) are decoded. pandas keeps some names in pickled
attributes; they are read with an unpickler that refuses every class, so a
file can hand over lists of names and nothing else.

Reading goes in chunks of rows so that only the needed columns are ever held
in full. Each chunk is either a structured array whose fields are exactly the
requested columns or a dict of 1-D arrays, both indexable by column name.
"""

from __future__ import annotations

import io
import logging
import pickle
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from tw_pipeline.data.detect import (
    Column,
    TableInfo,
    check_columns,
    choose_table,
    display_path,
    file_not_found,
    inspect_hint,
    source_label,
)
from tw_pipeline.errors import InvalidData, Problem

__all__ = [
    "Chunk",
    "iter_chunks",
    "list_tables",
    "normalise_key",
    "read_columns",
    "table_info",
]

log = logging.getLogger(__name__)

Chunk = np.ndarray | dict[str, np.ndarray]
"""Rows of a table: a structured array or a dict of 1-D arrays, by column name."""

PANDAS_TABLE = "pandas table"
PANDAS_FIXED = "pandas fixed"
PYTABLES_TABLE = "PyTables table"
COMPOUND = "compound dataset"
DATASET_GROUP = "group of datasets"

# Rows per chunk aim at this many bytes: large enough that per-call costs
# vanish, small enough to stay in the CPU caches while it is converted.
_CHUNK_BYTES = 8 * 2**20

_NUMERIC_KINDS = "biuf"
_KIND_PROBLEMS = {
    "S": "text",
    "U": "text",
    "O": "text or Python objects",
    "c": "complex numbers",
    "M": "dates",
    "m": "time differences",
    "V": "raw bytes",
}


def normalise_key(key: str | None) -> str | None:
    """Write an HDF5 key the way :class:`TableInfo` does: no outer slashes.

    ``"/tt_nominal"`` and ``"tt_nominal/"`` both become ``"tt_nominal"``;
    the root group is ``"/"``.
    """
    if key is None:
        return None
    stripped = key.strip().strip("/")
    return stripped or "/"


def list_tables(path: Path | str) -> list[TableInfo]:
    """Describe every table of events in an HDF5 file.

    Args:
        path: the HDF5 file.

    Returns:
        One :class:`TableInfo` per table, in the file's order.

    Raises:
        InvalidData: when the file cannot be opened as HDF5.
    """
    with _open(path) as handle:
        return [layout.info for layout in _find_layouts(handle)]


def table_info(path: Path | str, key: str | None) -> TableInfo:
    """Describe the table a sample names (or the file's only table).

    Args:
        path: the HDF5 file.
        key: group or dataset path; None when the file holds one table.

    Returns:
        The table's :class:`TableInfo`.

    Raises:
        InvalidData: when the file cannot be opened, or the key is missing or
            is not a table (the message lists the file's tables).
    """
    with _open(path) as handle:
        return _resolve(handle, Path(path), key).info


def iter_chunks(
    path: Path | str,
    key: str | None,
    columns: Sequence[str],
    *,
    chunk_rows: int | None = None,
) -> Iterator[Chunk]:
    """Read the named columns of a table, a block of rows at a time.

    Each chunk is valid until the next one is requested: the reader reuses
    its buffers, so copy what must be kept.

    Args:
        path: the HDF5 file.
        key: group or dataset path; None when the file holds one table.
        columns: the column names to read; all must be numeric.
        chunk_rows: rows per chunk; by default about 8 MiB of the table.

    Yields:
        Chunks indexable by every name in ``columns``, in row order.

    Raises:
        InvalidData: when the file, key or a column is missing, a column is
            not numeric, or the file cannot be read.
    """
    path = Path(path)
    with _open(path) as handle:
        layout = _resolve(handle, path, key)
        check_columns(path, layout.info, columns)
        try:
            yield from layout.chunks(list(columns), chunk_rows)
        except OSError as err:
            raise InvalidData(
                Problem(
                    message=f"reading failed ({err})",
                    source=source_label(path, layout.info.key),
                    hint="the file may be damaged or truncated; try copying it again",
                )
            ) from err


def read_columns(
    path: Path | str, key: str | None, columns: Sequence[str]
) -> dict[str, np.ndarray]:
    """Read whole columns of a table into numpy arrays of their stored type.

    Args:
        path: the HDF5 file.
        key: group or dataset path; None when the file holds one table.
        columns: the column names to read.

    Returns:
        One 1-D array per name.

    Raises:
        InvalidData: as :func:`iter_chunks`.
    """
    info = table_info(path, key)
    out = {
        name: np.empty(info.rows, dtype=_storage_dtype(info, name)) for name in columns
    }
    start = 0
    for chunk in iter_chunks(path, info.key, columns):
        stop = start + _chunk_length(chunk, columns)
        for name in columns:
            out[name][start:stop] = chunk[name]
        start = stop
    return out


def _storage_dtype(info: TableInfo, name: str) -> np.dtype:
    """numpy type of a column; pandas' bool columns come back as bool."""
    column = info.column(name)
    return np.dtype(column.dtype) if column is not None else np.dtype(np.float64)


def _chunk_length(chunk: Chunk, columns: Sequence[str]) -> int:
    if isinstance(chunk, np.ndarray):
        return int(chunk.shape[0])
    return int(len(chunk[columns[0]])) if columns else 0


def _open(path: Path | str) -> h5py.File:
    """Open read-only, turning h5py's failures into a data error."""
    try:
        return h5py.File(path, "r")
    except FileNotFoundError:
        raise file_not_found(path) from None
    except OSError as err:
        raise InvalidData(
            Problem(
                message=f"cannot be opened as HDF5 ({err})",
                source=display_path(path),
                hint="the file may be truncated (an interrupted copy?) or be "
                "written by a newer HDF5 library",
            )
        ) from err


def _resolve(handle: h5py.File, path: Path, key: str | None) -> _Layout:
    """Find the layout at ``key``, or explain what the file holds instead."""
    key = normalise_key(key)
    if key is not None:
        found = _layout_at(handle, key)
        if isinstance(found, _Layout):
            return found
        if found is not None:
            tables = [layout.info.key for layout in _find_layouts(handle)]
            listing = ", ".join(tables) if tables else "none"
            raise InvalidData(
                Problem(
                    message=f"is {found}; expected a table with one row per event",
                    source=display_path(path),
                    path=f"key {key!r}",
                    hint=f"the file's tables are: {listing}; {inspect_hint(path)}",
                )
            )

    layouts = _find_layouts(handle)
    info = choose_table(path, key, [layout.info for layout in layouts])
    return next(layout for layout in layouts if layout.info.key == info.key)


def _find_layouts(handle: h5py.File) -> list[_Layout]:
    """Every table in the file, skipping the insides of pandas groups."""
    found: list[_Layout] = []
    consumed: list[str] = []

    def visit(name: str, _obj: Any) -> None:
        if any(name.startswith(prefix + "/") for prefix in consumed):
            return
        layout = _layout_at(handle, name)
        if isinstance(layout, _Layout):
            found.append(layout)
            if layout.info.layout in (PANDAS_TABLE, PANDAS_FIXED):
                consumed.append(name)
        elif layout is not None and layout.startswith("a PyTables index"):
            consumed.append(name)

    root = _layout_at(handle, "/")
    if isinstance(root, _Layout):
        found.append(root)
    try:
        handle.visititems(visit)
    except (KeyError, OSError) as err:
        # A dangling external link must not hide the rest of the file.
        log.debug("stopped walking %s: %s", handle.filename, err)
    return found


def _layout_at(handle: h5py.File, key: str) -> _Layout | str | None:
    """The layout stored at ``key``; a description if it is no table; None if absent."""
    try:
        obj = handle[key] if key != "/" else handle
    except (KeyError, OSError):
        return None

    if isinstance(obj, h5py.Dataset):
        parent = obj.parent
        if obj.name.rsplit("/", 1)[-1] == "table" and _attr_text(parent, "pandas_type"):
            return _layout_at(handle, normalise_key(parent.name) or "/")
        if obj.dtype.names is not None and obj.ndim == 1:
            return _RecordTable(obj, normalise_key(obj.name) or "/")
        return _describe_dataset(obj)

    if not isinstance(obj, h5py.Group):
        return None
    key = normalise_key(obj.name) or "/"
    pandas_type = _attr_text(obj, "pandas_type")
    if pandas_type == "frame_table" and isinstance(obj.get("table"), h5py.Dataset):
        return _RecordTable(obj["table"], key, pandas_group=obj)
    if pandas_type == "frame":
        return _FixedFrame(obj, key)
    if pandas_type:
        return f"a pandas {pandas_type} object, not a data frame"
    if _attr_text(obj, "CLASS") in ("TINDEX", "INDEX"):
        return "a PyTables index"
    return _DatasetGroup.build(obj, key)


def _describe_dataset(obj: h5py.Dataset) -> str:
    if obj.ndim == 1:
        return f"a single 1-D dataset ({obj.dtype}), one column rather than a table"
    return f"a {obj.ndim}-D dataset of {obj.dtype} with shape {obj.shape}"


class _Layout:
    """A table inside an open file: its description and a chunked reader."""

    info: TableInfo

    def chunks(self, names: list[str], chunk_rows: int | None) -> Iterator[Chunk]:
        raise NotImplementedError


@dataclass(frozen=True)
class _Field:
    """Where a column sits inside a compound row."""

    offset: int
    dtype: np.dtype


class _RecordTable(_Layout):
    """A 1-D compound dataset: PyTables, h5py or the rows of a pandas table."""

    def __init__(
        self, dataset: h5py.Dataset, key: str, pandas_group: h5py.Group | None = None
    ) -> None:
        self.dataset = dataset
        self.fields: dict[str, _Field] = {}
        if pandas_group is not None:
            layout = PANDAS_TABLE
            columns = self._pandas_columns(pandas_group)
        else:
            is_pytables = _attr_text(dataset, "CLASS") == "TABLE"
            layout = PYTABLES_TABLE if is_pytables else COMPOUND
            columns = self._plain_columns()
        self.info = TableInfo(
            key=key, layout=layout, rows=int(dataset.shape[0]), columns=tuple(columns)
        )

    def _plain_columns(self) -> list[Column]:
        columns = []
        for name in self.dataset.dtype.names:
            dtype, offset = self.dataset.dtype.fields[name][:2]
            columns.append(self._column(name, dtype, offset))
        return columns

    def _pandas_columns(self, group: h5py.Group) -> list[Column]:
        table = self.dataset
        index_fields = {name for _, name in _pickled(group, "index_cols") or []}
        index_fields.add("index")
        columns = []
        for field in table.dtype.names:
            if field in index_fields:
                continue
            dtype, offset = table.dtype.fields[field][:2]
            names = _pickled(table, f"{field}_kind")
            names = [_decode(n) for n in names] if names else [field]
            shown = _attr_text(table, f"{field}_dtype")
            meta = _pickled(table, f"{field}_meta")
            base = dtype.subdtype[0] if dtype.subdtype else dtype
            width = int(np.prod(dtype.shape)) if dtype.shape else 1
            if width != len(names):
                msg = (
                    f"pandas table field {field!r} holds {width} columns but "
                    f"names {len(names)}"
                )
                raise InvalidData(
                    Problem(
                        message=msg,
                        source=display_path(table.file.filename),
                        hint="the file is damaged or was not written by pandas",
                    )
                )
            for position, name in enumerate(names):
                column = self._column(name, base, offset + position * base.itemsize)
                if meta is not None:
                    column = Column(name, str(meta), f"pandas {_decode(meta)} values")
                elif shown and column.numeric:
                    column = Column(name, shown, None)
                columns.append(column)
        return columns

    def _column(self, name: str, dtype: np.dtype, offset: int) -> Column:
        """Describe one field; remember where numeric fields sit."""
        if dtype.names is not None:
            return Column(name, "record", "a nested record")
        if dtype.subdtype is not None:
            shape = "x".join(str(n) for n in dtype.shape)
            return Column(
                name, str(dtype.base), f"an array of {shape} values per event"
            )
        problem = (
            None if dtype.kind in _NUMERIC_KINDS else _KIND_PROBLEMS.get(dtype.kind)
        )
        if problem is None:
            self.fields[name] = _Field(offset, dtype)
        return Column(name, str(dtype), problem or None)

    def chunks(self, names: list[str], chunk_rows: int | None) -> Iterator[Chunk]:
        rows = self.info.rows
        record = self.dataset.dtype
        step = chunk_rows or max(1024, _CHUNK_BYTES // max(1, record.itemsize))
        step = min(step, max(rows, 1))

        # A view type that exposes just the requested columns (including
        # single columns out of pandas' shared blocks) at their offsets, so a
        # chunk is read once and never copied column by column.
        view = np.dtype(
            {
                "names": names,
                "formats": [self.fields[name].dtype for name in names],
                "offsets": [self.fields[name].offset for name in names],
                "itemsize": record.itemsize,
            }
        )
        # Two buffers: the next block is read into one while the caller
        # converts the other (see _read_ahead).
        buffers = (np.empty(step, dtype=record), np.empty(step, dtype=record))

        def read(number: int, start: int) -> Chunk:
            stop = min(start + step, rows)
            buffer = buffers[number % 2]
            self.dataset.read_direct(buffer, np.s_[start:stop], np.s_[0 : stop - start])
            return buffer[: stop - start].view(view)

        starts = range(0, rows, step)
        yield from _read_ahead(
            [partial(read, number, start) for number, start in enumerate(starts)]
        )


class _FixedFrame(_Layout):
    """pandas fixed format: one 2-D dataset per block of same-typed columns."""

    def __init__(self, group: h5py.Group, key: str) -> None:
        self.group = group
        self.where: dict[str, tuple[h5py.Dataset, int, bool]] = {}
        columns: list[Column] = []
        nblocks = int(group.attrs.get("nblocks", 0))
        for block in range(nblocks):
            items = group.get(f"block{block}_items")
            values = group.get(f"block{block}_values")
            if not isinstance(items, h5py.Dataset) or not isinstance(
                values, h5py.Dataset
            ):
                continue
            names = [_decode(name) for name in items[()]]
            if values.dtype.kind == "O" or values.ndim != 2:
                columns.extend(
                    Column(n, "object", "text or Python objects") for n in names
                )
                continue
            # pandas stores blocks as (rows, columns) and marks them
            # 'transposed'; very old files keep (columns, rows).
            rows_first = bool(values.attrs.get("transposed", 0))
            shown = "bool" if _is_bitfield(values) else str(values.dtype)
            for position, name in enumerate(names):
                kind = values.dtype.kind
                problem = None if kind in _NUMERIC_KINDS else _KIND_PROBLEMS.get(kind)
                columns.append(Column(name, shown, problem))
                if problem is None:
                    self.where[name] = (values, position, rows_first)

        axis = group.get("axis1")
        rows = int(axis.shape[0]) if isinstance(axis, h5py.Dataset) else 0
        order = [_decode(n) for n in group["axis0"][()]] if "axis0" in group else []
        rank = {name: i for i, name in enumerate(order)}
        columns.sort(key=lambda c: rank.get(c.name, len(rank)))
        self.info = TableInfo(
            key=key, layout=PANDAS_FIXED, rows=rows, columns=tuple(columns)
        )

    def chunks(self, names: list[str], chunk_rows: int | None) -> Iterator[Chunk]:
        rows = self.info.rows
        blocks = {id(self.where[name][0]): self.where[name][0] for name in names}
        width = sum(block.dtype.itemsize * block.shape[1] for block in blocks.values())
        step = chunk_rows or max(1024, _CHUNK_BYTES // max(1, width))

        def read(start: int) -> Chunk:
            stop = min(start + step, rows)
            blocks: dict[int, np.ndarray] = {}
            chunk: dict[str, np.ndarray] = {}
            for name in names:
                values, position, rows_first = self.where[name]
                if id(values) not in blocks:
                    part = values[start:stop] if rows_first else values[:, start:stop].T
                    blocks[id(values)] = part
                chunk[name] = blocks[id(values)][:, position]
            return chunk

        yield from _read_ahead([partial(read, start) for start in range(0, rows, step)])


class _DatasetGroup(_Layout):
    """A group of equal-length 1-D datasets, one per column."""

    def __init__(self, group: h5py.Group, key: str, datasets: dict[str, h5py.Dataset]):
        self.datasets = datasets
        rows = next(iter(datasets.values())).shape[0]
        columns = []
        for name, dataset in datasets.items():
            kind = dataset.dtype.kind
            if dataset.dtype.names is not None:
                problem: str | None = "a record per event"
            else:
                problem = None if kind in _NUMERIC_KINDS else _KIND_PROBLEMS.get(kind)
            columns.append(Column(name, str(dataset.dtype), problem))
        self.info = TableInfo(
            key=key, layout=DATASET_GROUP, rows=int(rows), columns=tuple(columns)
        )

    @classmethod
    def build(cls, group: h5py.Group, key: str) -> _DatasetGroup | str | None:
        """The group as a table, a reason it is none, or None if it holds no columns."""
        datasets: dict[str, h5py.Dataset] = {}
        for name in group:
            try:
                child = group[name]
            except (KeyError, OSError):
                continue
            if isinstance(child, h5py.Dataset) and child.ndim == 1:
                if child.dtype.names is None:
                    datasets[name] = child
        if not datasets:
            return "a group without 1-D datasets" if key != "/" else None
        lengths = {name: int(ds.shape[0]) for name, ds in datasets.items()}
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{n} ({length})" for n, length in lengths.items())
            return f"a group of datasets of different lengths: {shown}"
        return cls(group, key, datasets)

    def chunks(self, names: list[str], chunk_rows: int | None) -> Iterator[Chunk]:
        rows = self.info.rows
        width = sum(self.datasets[name].dtype.itemsize for name in names)
        step = chunk_rows or max(1024, _CHUNK_BYTES // max(1, width))

        def read(start: int) -> Chunk:
            stop = min(start + step, rows)
            return {name: self.datasets[name][start:stop] for name in names}

        yield from _read_ahead([partial(read, start) for start in range(0, rows, step)])


def _read_ahead(reads: Sequence[Callable[[], Chunk]]) -> Iterator[Chunk]:
    """Yield the results of ``reads`` in order, running each one step early.

    The next block is read in a background thread while the caller works on
    the current one; HDF5 reads and numpy conversions both release the GIL,
    so the two overlap. Only one read is ever in flight, so a caller that is
    done with a chunk when it asks for the next one may see it reused.
    Closing the generator waits for the read in flight before the file is
    closed.
    """
    if not reads:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="twpipe-read") as pool:
        pending = pool.submit(reads[0])
        for following in [*reads[1:], None]:
            chunk = pending.result()
            if following is not None:
                pending = pool.submit(following)
            yield chunk


def _is_bitfield(dataset: h5py.Dataset) -> bool:
    """PyTables stores numpy booleans as an HDF5 bitfield; h5py reads uint8."""
    return dataset.id.get_type().get_class() == h5py.h5t.BITFIELD


def _attr_text(obj: h5py.HLObject, name: str) -> str | None:
    """A string attribute as text, or None when absent or not a string."""
    try:
        value = obj.attrs.get(name)
    except (OSError, TypeError):
        return None
    if isinstance(value, (bytes, np.bytes_)):
        return _decode(value)
    if isinstance(value, str):
        return value
    return None


class _NamesOnlyUnpickler(pickle.Unpickler):
    """Unpickle lists, tuples, numbers and strings; refuse any class."""

    def find_class(self, module: str, name: str) -> Any:
        msg = f"refusing to load {module}.{name} from a data file"
        raise pickle.UnpicklingError(msg)


def _pickled(obj: h5py.HLObject, name: str) -> Any:
    """Read an attribute pandas stored as a pickle, or None if absent/unsafe."""
    try:
        raw = obj.attrs.get(name)
    except (OSError, TypeError):
        return None
    if not isinstance(raw, (bytes, np.bytes_)):
        return None
    try:
        # encoding="bytes" keeps Python 2 strings as bytes, decoded by the caller.
        return _NamesOnlyUnpickler(io.BytesIO(bytes(raw)), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError) as err:
        log.debug("attribute %s of %s not read: %s", name, obj.name, err)
        return None


def _decode(value: Any) -> str:
    """Column names written as bytes (Python 2, pandas fixed format) as text."""
    if isinstance(value, (bytes, np.bytes_)):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    return str(value)
