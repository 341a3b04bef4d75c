"""`twpipe inspect`: what a file holds, described and listed."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
import uproot

from tw_pipeline.data.inspect import describe_file, format_description
from tw_pipeline.errors import InvalidData


@pytest.fixture
def hdf5_file(tmp_path):
    path = tmp_path / "ntuples.h5"
    frame = pd.DataFrame(
        {
            "mass_lep1jet2": np.arange(4.0),
            "njets": np.arange(4, dtype=np.int32),
            "process": ["tt"] * 4,
        }
    )
    frame.to_hdf(path, key="tt_nominal", format="table")
    frame[["njets"]].to_hdf(path, key="syst/tt_jes_up", format="fixed")
    with h5py.File(path, "a") as handle:
        handle["flat/pt"] = np.arange(9.0)
        handle["flat/eta"] = np.arange(9.0)
    return path


def test_describe_lists_every_table_with_layout_rows_and_columns(hdf5_file):
    description = describe_file(hdf5_file)
    assert description.format == "hdf5"
    assert description.size_bytes == hdf5_file.stat().st_size
    tables = {table.key: table for table in description.tables}
    assert set(tables) == {"tt_nominal", "syst/tt_jes_up", "flat"}
    nominal = tables["tt_nominal"]
    assert (nominal.layout, nominal.rows) == ("pandas table", 4)
    assert [(c.name, c.dtype) for c in nominal.columns][:2] == [
        ("mass_lep1jet2", "float64"),
        ("njets", "int32"),
    ]
    assert nominal.column("process").problem == "text"
    assert (tables["flat"].layout, tables["flat"].rows) == ("group of datasets", 9)


def test_describe_one_key(hdf5_file):
    description = describe_file(hdf5_file, "/syst/tt_jes_up")
    assert [table.key for table in description.tables] == ["syst/tt_jes_up"]
    assert description.tables[0].layout == "pandas fixed"


def test_describe_unknown_key_lists_the_keys(hdf5_file):
    with pytest.raises(InvalidData, match="did you mean 'tt_nominal'"):
        describe_file(hdf5_file, "tt_nominl")


def test_listing_shows_keys_layouts_columns_and_unusable_ones(hdf5_file):
    text = format_description(describe_file(hdf5_file, "tt_nominal"))
    lines = text.splitlines()
    assert lines[0].startswith(f"{describe_file(hdf5_file).path}: HDF5, ")
    assert lines[0].endswith(", 3 tables (showing tt_nominal)")
    assert "tt_nominal  (pandas table, 4 events, 3 columns)" in lines
    assert "  mass_lep1jet2  float64" in lines
    assert any(
        line.startswith("  process") and line.endswith("text; not usable as an input")
        for line in lines
    )


def test_root_trees_are_described_with_their_branches(tmp_path):
    path = tmp_path / "events.root"
    with uproot.recreate(path) as handle:
        handle.mktree("nominal", {"pt": np.float64, "njets": np.int32}).extend(
            {"pt": np.arange(3.0), "njets": np.arange(3, dtype=np.int32)}
        )
    description = describe_file(path)
    assert description.format == "root"
    (tree,) = description.tables
    assert (tree.key, tree.layout, tree.rows, tree.names) == (
        "nominal",
        "ROOT TTree",
        3,
        ["pt", "njets"],
    )
    text = format_description(description)
    assert "nominal  (ROOT TTree, 3 events, 2 branches)" in text
    assert text.splitlines()[0].endswith(", 1 tree")


def test_file_without_tables_says_so(tmp_path):
    path = tmp_path / "empty.h5"
    with h5py.File(path, "w") as handle:
        handle["image"] = np.zeros((2, 2))
    description = describe_file(path)
    assert description.tables == ()
    assert "(no table of events found)" in format_description(description)
