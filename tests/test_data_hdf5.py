"""HDF5 tables of every layout: found, described and read exactly."""

from __future__ import annotations

import pickle

import h5py
import numpy as np
import pandas as pd
import pytest
import tables

from tw_pipeline.data import hdf5
from tw_pipeline.errors import InvalidData

ROWS = 7


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pt": np.linspace(10.0, 70.0, ROWS),
            "njets": np.arange(ROWS, dtype=np.int32),
            "is_os": np.arange(ROWS) % 2 == 0,
            "eta": np.linspace(-2.0, 2.0, ROWS).astype(np.float32),
        }
    )


def records() -> np.ndarray:
    return frame().to_records(index=False)


def assert_reads_frame(path, key):
    expected = frame()
    got = hdf5.read_columns(path, key, ["eta", "pt", "njets", "is_os"])
    for name in ("eta", "pt", "njets"):
        np.testing.assert_array_equal(got[name], expected[name].to_numpy())
    np.testing.assert_array_equal(got["is_os"].astype(bool), expected["is_os"])


@pytest.mark.parametrize("data_columns", [None, True])
def test_pandas_table_format(tmp_path, data_columns):
    path = tmp_path / "pandas_table.h5"
    frame().to_hdf(path, key="tt_nominal", format="table", data_columns=data_columns)
    info = hdf5.table_info(path, "tt_nominal")
    assert (info.layout, info.rows) == ("pandas table", ROWS)
    assert info.names == ["pt", "njets", "is_os", "eta"]
    assert info.column("is_os").dtype == "bool"
    assert_reads_frame(path, "/tt_nominal")


def test_pandas_fixed_format_decodes_its_byte_column_names(tmp_path):
    path = tmp_path / "pandas_fixed.h5"
    frame().to_hdf(path, key="tt_nominal", format="fixed")
    with h5py.File(path) as handle:
        # pandas stores the names as bytes; the reader must decode them.
        assert handle["tt_nominal/axis0"].dtype.kind == "S"
    info = hdf5.table_info(path, "tt_nominal")
    assert (info.layout, info.names) == (
        "pandas fixed",
        ["pt", "njets", "is_os", "eta"],
    )
    assert_reads_frame(path, "tt_nominal")


def test_pytables_table_in_a_nested_group(tmp_path):
    path = tmp_path / "pytables.h5"
    with tables.open_file(path, "w") as handle:
        handle.create_table(
            "/nominal/ttbar", "events", obj=records(), createparents=True
        )
    info = hdf5.table_info(path, "nominal/ttbar/events")
    assert (info.layout, info.rows) == ("PyTables table", ROWS)
    assert_reads_frame(path, "/nominal/ttbar/events")


def test_h5py_compound_dataset(tmp_path):
    path = tmp_path / "compound.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("selected/events", data=records())
    assert hdf5.table_info(path, "selected/events").layout == "compound dataset"
    assert_reads_frame(path, "selected/events")


def test_h5py_group_of_one_dimensional_datasets(tmp_path):
    path = tmp_path / "group.h5"
    with h5py.File(path, "w") as handle:
        group = handle.create_group("ntuple")
        for name, values in frame().items():
            group[name] = values.to_numpy()
    info = hdf5.table_info(path, "ntuple")
    assert (info.layout, info.rows) == ("group of datasets", ROWS)
    assert_reads_frame(path, "ntuple")


def test_datasets_at_the_file_root_form_the_root_table(tmp_path):
    path = tmp_path / "flat.h5"
    with h5py.File(path, "w") as handle:
        for name, values in frame().items():
            handle[name] = values.to_numpy()
    assert [t.key for t in hdf5.list_tables(path)] == ["/"]
    assert_reads_frame(path, None)


def python2_pickle(names: list[str]) -> bytes:
    """A protocol-0 pickle of a list of Python 2 ``str``, as pandas wrote it."""
    body = "".join(f"S'{name}'\np{i + 2}\na" for i, name in enumerate(names))
    return f"(lp1\n{body}.".encode()


def test_python2_byte_column_names_in_a_pandas_table_are_decoded(tmp_path):
    path = tmp_path / "py2.h5"
    frame()[["pt", "eta"]].astype(np.float64).to_hdf(path, key="t", format="table")
    with h5py.File(path, "a") as handle:
        table = handle["t/table"]
        table.attrs["values_block_0_kind"] = np.bytes_(
            python2_pickle(["mass_lep1jet2", "pT_jet2"])
        )
    info = hdf5.table_info(path, "t")
    assert info.names == ["mass_lep1jet2", "pT_jet2"]
    got = hdf5.read_columns(path, "t", ["pT_jet2", "mass_lep1jet2"])
    np.testing.assert_array_equal(got["mass_lep1jet2"], frame()["pt"].to_numpy())
    np.testing.assert_allclose(got["pT_jet2"], frame()["eta"].to_numpy())


class _Planted:
    """An object whose unpickling would create a folder."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        import os

        return (os.makedirs, (self.target,))


def test_pickled_attributes_never_run_code(tmp_path):
    path = tmp_path / "hostile.h5"
    frame()[["pt"]].to_hdf(path, key="t", format="table")
    planted = tmp_path / "planted"
    with h5py.File(path, "a") as handle:
        handle["t/table"].attrs["values_block_0_kind"] = np.bytes_(
            pickle.dumps(_Planted(str(planted)), protocol=0)
        )
    info = hdf5.table_info(path, "t")
    assert not planted.exists()
    # Without its names the single column keeps the field's name.
    assert info.names == ["values_block_0"]


def test_list_tables_skips_pandas_internals_and_indexes(tmp_path):
    path = tmp_path / "many.h5"
    frame().to_hdf(path, key="a", format="table", data_columns=True)
    frame().to_hdf(path, key="b/c", format="fixed")
    with h5py.File(path, "a") as handle:
        handle.create_dataset("d", data=records())
        handle["image"] = np.zeros((3, 3))
    assert [t.key for t in hdf5.list_tables(path)] == ["a", "b/c", "d"]


def test_the_table_dataset_of_a_pandas_group_resolves_to_the_frame(tmp_path):
    path = tmp_path / "pandas_table.h5"
    frame().to_hdf(path, key="tt", format="table")
    assert hdf5.table_info(path, "tt/table").key == "tt"


@pytest.mark.parametrize("layout", ["pytables", "fixed", "group"])
def test_chunks_cover_every_row_once_in_order(tmp_path, layout):
    path = tmp_path / f"{layout}.h5"
    big = pd.DataFrame({"x": np.arange(1000.0), "y": np.arange(1000) * 2})
    if layout == "pytables":
        with tables.open_file(path, "w") as handle:
            handle.create_table("/", "t", obj=big.to_records(index=False))
    elif layout == "fixed":
        big.to_hdf(path, key="t", format="fixed")
    else:
        with h5py.File(path, "w") as handle:
            handle["t/x"] = big["x"].to_numpy()
            handle["t/y"] = big["y"].to_numpy()

    pieces = [
        {name: np.array(chunk[name]) for name in ("y", "x")}
        for chunk in hdf5.iter_chunks(path, "t", ["y", "x"], chunk_rows=300)
    ]
    assert [len(piece["x"]) for piece in pieces] == [300, 300, 300, 100]
    np.testing.assert_array_equal(np.concatenate([p["x"] for p in pieces]), big["x"])
    np.testing.assert_array_equal(np.concatenate([p["y"] for p in pieces]), big["y"])


def test_text_column_is_described_and_refused_when_read(tmp_path):
    path = tmp_path / "text.h5"
    with_text = frame().assign(process=["tt"] * ROWS)
    with_text.to_hdf(path, key="t", format="table")
    assert hdf5.table_info(path, "t").column("process").problem == "text"
    with pytest.raises(InvalidData) as caught:
        hdf5.read_columns(path, "t", ["process"])
    problem = caught.value.problems[0]
    assert problem.path == "column 'process'"
    assert "holds text" in problem.message
    assert "expected one number or true/false per event" in problem.message


def test_missing_column_suggests_the_closest(tmp_path):
    path = tmp_path / "t.h5"
    frame().to_hdf(path, key="t", format="table")
    with pytest.raises(InvalidData, match=r"did you mean 'njets'\?") as caught:
        hdf5.read_columns(path, "t", ["njet"])
    assert caught.value.problems[0].source.endswith("t.h5 [t]")


def test_group_with_unequal_datasets_is_explained(tmp_path):
    path = tmp_path / "ragged.h5"
    with h5py.File(path, "w") as handle:
        handle["t/x"] = np.arange(3.0)
        handle["t/y"] = np.arange(5.0)
        handle["ok"] = records()
    with pytest.raises(InvalidData, match=r"different lengths: x \(3\), y \(5\)"):
        hdf5.table_info(path, "t")


def test_missing_key_lists_the_file_tables(tmp_path):
    path = tmp_path / "t.h5"
    frame().to_hdf(path, key="tt_nominal", format="table")
    frame().to_hdf(path, key="wt_nominal", format="table")
    with pytest.raises(InvalidData) as caught:
        hdf5.table_info(path, "tt_nomina")
    assert "closest first: tt_nominal, wt_nominal" in caught.value.problems[0].hint


def test_damaged_file_is_a_data_error(tmp_path):
    path = tmp_path / "cut.h5"
    frame().to_hdf(tmp_path / "whole.h5", key="t", format="table")
    path.write_bytes((tmp_path / "whole.h5").read_bytes()[:3000])
    with pytest.raises(InvalidData, match="cannot be opened as HDF5|reading failed"):
        hdf5.read_columns(path, "t", ["pt"])
