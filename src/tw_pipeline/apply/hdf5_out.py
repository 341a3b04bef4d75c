"""Write a scored copy of an HDF5 file, each table in the layout it came in.

The output starts as a copy of every object of the input (groups, datasets,
attributes, links), made by the HDF5 library without loading the data. Each
scored table then gets its score column in its own layout, a block of rows at
a time:

* **group of datasets**: one more 1-D dataset in the group.
* **pandas fixed**: one more block (``block<n>_items``/``block<n>_values``)
  and the column name appended to ``axis0``, as pandas writes them.
* **compound dataset** and **PyTables table**: the dataset is rewritten with
  one more field (and, for PyTables, the field's ``FIELD_<n>_*`` attributes).
* **pandas table**: rewritten through pandas' own ``HDFStore.append``, with
  the same index and data columns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from tw_pipeline.apply.plan import FilePlan
from tw_pipeline.apply.scorer import SCORE_DTYPE
from tw_pipeline.data import hdf5
from tw_pipeline.data.detect import TableInfo, source_label

__all__ = ["write_scored_hdf5"]

log = logging.getLogger(__name__)

ScoreBlock = Callable[[Any, int, str], np.ndarray]
Advance = Callable[[int], None]

# Tables written anew (not copied first and extended in place).
_REWRITTEN = (hdf5.PANDAS_TABLE, hdf5.COMPOUND, hdf5.PYTABLES_TABLE)


def write_scored_hdf5(
    plan: FilePlan,
    temporary: Path,
    score: ScoreBlock,
    score_name: str,
    needed: list[str],
    *,
    chunk_rows: int,
    advance: Advance,
) -> None:
    """Write the scored copy of ``plan.source`` to ``temporary``.

    Args:
        plan: the checked input and the tables to score.
        temporary: where to write; renamed into place by the caller.
        score: scores a block: (columns by name, rows, source label) -> scores.
        score_name: the new column.
        needed: the columns the scorer reads.
        chunk_rows: events read, scored and written at a time.
        advance: called with the number of events done after each block.
    """
    rewritten = {
        _object_path(table) for table in plan.scored if table.layout in _REWRITTEN
    }
    with h5py.File(plan.source, "r") as source, h5py.File(temporary, "w") as target:
        _copy_except(source, target, rewritten)
        for table in plan.scored:
            label = source_label(plan.source, table.key)
            writer = {
                hdf5.DATASET_GROUP: _add_to_group,
                hdf5.PANDAS_FIXED: _add_fixed_block,
                hdf5.COMPOUND: _rewrite_records,
                hdf5.PYTABLES_TABLE: _rewrite_records,
            }.get(table.layout)
            if writer is not None:
                writer(
                    plan,
                    source,
                    target,
                    table,
                    score,
                    score_name,
                    needed,
                    chunk_rows,
                    advance,
                    label,
                )

    # pandas writes through PyTables, which must have the file to itself.
    for table in plan.scored:
        if table.layout == hdf5.PANDAS_TABLE:
            _rewrite_pandas_table(
                plan, temporary, table, score, score_name, chunk_rows, advance
            )


def _object_path(table: TableInfo) -> str:
    """The HDF5 path of a table's own object (the group, for pandas tables)."""
    return "/" + table.key.strip("/")


def _copy_except(source: h5py.Group, target: h5py.Group, skipped: set[str]) -> None:
    """Copy every object below ``source`` except the paths in ``skipped``."""
    for name, value in source.attrs.items():
        target.attrs[name] = value
    for name in source:
        link = source.get(name, getlink=True)
        path = f"{source.name.rstrip('/')}/{name}"
        if isinstance(link, h5py.SoftLink):
            target[name] = h5py.SoftLink(link.path)
        elif isinstance(link, h5py.ExternalLink):
            target[name] = h5py.ExternalLink(link.filename, link.path)
        elif path in skipped:
            continue
        elif any(other.startswith(path + "/") for other in skipped):
            _copy_except(source[name], target.create_group(name), skipped)
        else:
            source.copy(name, target, name=name)


def _blocks(plan: FilePlan, table: TableInfo, needed: list[str], chunk_rows: int):
    """(start, stop, columns) for each block of a table, through the load readers."""
    start = 0
    for chunk in hdf5.iter_chunks(
        plan.source, table.key, needed, chunk_rows=chunk_rows
    ):
        rows = (
            chunk.shape[0] if isinstance(chunk, np.ndarray) else len(chunk[needed[0]])
        )
        yield start, start + rows, chunk
        start += rows


def _add_to_group(
    plan, source, target, table, score, score_name, needed, chunk_rows, advance, label
) -> None:
    group = target[_object_path(table)]
    column = group.create_dataset(
        score_name,
        shape=(table.rows,),
        dtype=SCORE_DTYPE,
        chunks=(min(max(table.rows, 1), 65536),),
        compression="gzip",
    )
    for start, stop, chunk in _blocks(plan, table, needed, chunk_rows):
        column[start:stop] = score(chunk, stop - start, label)
        advance(stop - start)


def _add_fixed_block(
    plan, source, target, table, score, score_name, needed, chunk_rows, advance, label
) -> None:
    group = target[_object_path(table)]
    block = int(group.attrs["nblocks"])
    first_values = group["block0_values"] if "block0_values" in group else None
    rows_first = bool(first_values.attrs.get("transposed", 1)) if first_values else True

    # The new block, with the attributes pandas gives its blocks.
    name = score_name.encode("utf-8")
    items = group.create_dataset(f"block{block}_items", data=np.array([name]))
    values = group.create_dataset(
        f"block{block}_values",
        shape=(table.rows, 1) if rows_first else (1, table.rows),
        dtype=SCORE_DTYPE,
    )
    if first_values is not None:
        for key, value in group["block0_items"].attrs.items():
            items.attrs[key] = value
        for key, value in first_values.attrs.items():
            values.attrs[key] = value
    group.attrs[f"block{block}_items_variety"] = np.bytes_(b"regular")

    # The column order lives in axis0; the score goes last.
    axis = group["axis0"]
    names = [bytes(n) for n in axis[()]] + [name]
    attrs = dict(axis.attrs)
    del group["axis0"]
    axis = group.create_dataset("axis0", data=np.array(names))
    for key, value in attrs.items():
        axis.attrs[key] = value
    group.attrs["nblocks"] = block + 1

    for start, stop, chunk in _blocks(plan, table, needed, chunk_rows):
        scores = score(chunk, stop - start, label)
        if rows_first:
            values[start:stop, 0] = scores
        else:
            values[0, start:stop] = scores
        advance(stop - start)


def _rewrite_records(
    plan, source, target, table, score, score_name, needed, chunk_rows, advance, label
) -> None:
    path = _object_path(table)
    original = source[path]
    layout = np.dtype(original.dtype.descr + [(score_name, SCORE_DTYPE.str)])
    rows = table.rows
    dataset = target.create_dataset(
        path,
        shape=(rows,),
        maxshape=original.maxshape,
        dtype=layout,
        chunks=original.chunks or (min(max(rows, 1), 8192),),
        compression=original.compression,
        compression_opts=original.compression_opts,
        shuffle=original.shuffle,
    )
    for key, value in original.attrs.items():
        dataset.attrs[key] = value
    if table.layout == hdf5.PYTABLES_TABLE:
        # PyTables names each field in attributes as well as in the type.
        field = len(original.dtype.names)
        dataset.attrs[f"FIELD_{field}_NAME"] = np.bytes_(score_name.encode("utf-8"))
        dataset.attrs[f"FIELD_{field}_FILL"] = SCORE_DTYPE.type(0)

    # The whole record is read, so every field, numeric or not, is copied.
    for start in range(0, rows, chunk_rows):
        stop = min(start + chunk_rows, rows)
        records = original[start:stop]
        block = np.empty(stop - start, dtype=layout)
        for name in original.dtype.names:
            block[name] = records[name]
        block[score_name] = score(records, stop - start, label)
        dataset[start:stop] = block
        advance(stop - start)


def _rewrite_pandas_table(
    plan, temporary, table, score, score_name, chunk_rows, advance
) -> None:
    import pandas as pd

    label = source_label(plan.source, table.key)
    key = _object_path(table)
    with (
        pd.HDFStore(plan.source, mode="r") as source,
        pd.HDFStore(temporary, mode="a") as target,
    ):
        storer = source.get_storer(key)
        data_columns = [c for c in (storer.data_columns or []) if c != "index"]
        # Text columns keep the width of the input's, so that no later block
        # is refused for holding a longer string than the first one did.
        widths = [c.itemsize for c in storer.values_axes if c.kind == "string"]
        min_itemsize = {"values": max(widths)} if widths else None
        filters = storer.table.filters
        for start in range(0, table.rows, chunk_rows):
            stop = min(start + chunk_rows, table.rows)
            frame = source.select(key, start=start, stop=stop)
            columns = {name: frame[name].to_numpy() for name in frame.columns}
            frame[score_name] = score(columns, stop - start, label)
            target.append(
                key,
                frame,
                format="table",
                index=False,
                data_columns=data_columns or None,
                min_itemsize=min_itemsize,
                complevel=filters.complevel,
                complib=filters.complib if filters.complevel else None,
            )
            advance(stop - start)
        if table.rows == 0:
            # An empty table still has its columns (and the score's) in the output.
            frame = source.select(key)
            frame[score_name] = np.empty(0, dtype=SCORE_DTYPE)
            target.put(key, frame, format="table", data_columns=data_columns or None)
