"""File format by content, and choosing a table by key."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import uproot

from tw_pipeline.data.detect import (
    Column,
    TableInfo,
    choose_table,
    closest_first,
    detect_format,
)
from tw_pipeline.errors import InvalidData


def test_hdf5_is_recognised_whatever_the_file_is_called(tmp_path):
    path = tmp_path / "events.root"
    with h5py.File(path, "w") as handle:
        handle["x"] = np.arange(3.0)
    assert detect_format(path) == "hdf5"


def test_hdf5_with_a_user_block_is_recognised(tmp_path):
    path = tmp_path / "events.h5"
    with h5py.File(path, "w", userblock_size=1024) as handle:
        handle["x"] = np.arange(3.0)
    assert detect_format(path) == "hdf5"


def test_root_is_recognised_whatever_the_file_is_called(tmp_path):
    path = tmp_path / "events.h5"
    with uproot.recreate(path) as handle:
        handle.mktree("t", {"x": np.float64}).extend({"x": np.arange(3.0)})
    assert detect_format(path) == "root"


def test_other_files_are_refused_with_what_they_start_with(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(InvalidData, match="neither an HDF5 nor a ROOT file") as caught:
        detect_format(path)
    assert "b'a,b\\n1,2\\n'" in str(caught.value)


def test_missing_file_is_a_data_error_naming_the_file(tmp_path):
    with pytest.raises(InvalidData, match="file not found") as caught:
        detect_format(tmp_path / "nowhere.h5")
    assert "nowhere.h5" in caught.value.problems[0].source


def test_folder_is_refused(tmp_path):
    with pytest.raises(InvalidData, match="is a folder"):
        detect_format(tmp_path)


def _table(key: str) -> TableInfo:
    return TableInfo(
        key=key, layout="pandas table", rows=1, columns=(Column("x", "f8"),)
    )


TABLES = [_table(k) for k in ("wt_DR_nominal", "tt_nominal", "tt_syst_up", "data")]


def test_key_is_found_among_the_tables():
    assert choose_table("f.h5", "tt_nominal", TABLES).key == "tt_nominal"


def test_missing_key_lists_the_keys_closest_first():
    with pytest.raises(InvalidData) as caught:
        choose_table("f.h5", "tt_nomnal", TABLES)
    problem = caught.value.problems[0]
    assert problem.path == "key 'tt_nomnal'"
    assert problem.message == "not in the file"
    assert problem.hint.startswith("did you mean 'tt_nominal'")
    assert "closest first: tt_nominal, " in problem.hint
    assert problem.hint.index("tt_nominal") < problem.hint.index("data")
    assert "twpipe inspect f.h5" in problem.hint


def test_closest_first_orders_by_similarity():
    ordered = closest_first("tt_nomnal", ["wt_DR_syst", "tt_nominal", "tt_nom"])
    assert ordered == ["tt_nominal", "tt_nom", "wt_DR_syst"]


def test_no_key_takes_the_only_table():
    assert choose_table("f.h5", None, TABLES[:1]).key == "wt_DR_nominal"


def test_no_key_with_several_tables_lists_them():
    with pytest.raises(
        InvalidData, match="holds 4 tables and no key was given"
    ) as caught:
        choose_table("f.h5", None, TABLES)
    assert "tt_syst_up" in caught.value.problems[0].hint


def test_file_without_tables_says_so():
    with pytest.raises(InvalidData, match="holds no table of events"):
        choose_table("f.h5", "x", [])
