"""ROOT trees written with uproot: found, described and read exactly."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from tw_pipeline.data import root
from tw_pipeline.errors import InvalidData

ROWS = 6


def branches() -> dict[str, np.ndarray]:
    return {
        "pt": np.linspace(20.0, 70.0, ROWS),
        "njets": np.arange(ROWS, dtype=np.int32),
        "is_os": np.arange(ROWS) % 2 == 0,
    }


@pytest.fixture
def root_file(tmp_path):
    path = tmp_path / "events.root"
    with uproot.recreate(path) as handle:
        tree = handle.mktree(
            "nominal",
            {
                "pt": np.float64,
                "njets": np.int32,
                "is_os": np.bool_,
                "jet_pt": "var * float64",
                "lep_p4": ("f4", (4,)),
            },
        )
        tree.extend(
            {
                **branches(),
                "jet_pt": ak.Array([[1.0], [], [2.0, 3.0], [4.0], [], [5.0]]),
                "lep_p4": np.ones((ROWS, 4), dtype=np.float32),
            }
        )
        handle.mktree("syst/jes_up", {"pt": np.float64}).extend({"pt": np.arange(3.0)})
    return path


def test_list_trees_finds_trees_in_folders(root_file):
    trees = {tree.key: tree for tree in root.list_trees(root_file)}
    assert set(trees) == {"nominal", "syst/jes_up"}
    assert (trees["nominal"].layout, trees["nominal"].rows) == ("ROOT TTree", ROWS)
    assert trees["syst/jes_up"].rows == 3


def test_flat_branches_are_usable_and_others_say_why_not(root_file):
    info = root.tree_info(root_file, "nominal")
    assert info.column("pt").numeric
    assert info.column("is_os").dtype == "bool"
    assert info.column("jet_pt").problem == "a variable-length array per event"
    assert info.column("lep_p4").problem == "an array of 4 values per event"


@pytest.mark.parametrize("name", ["nominal", "nominal;1", "/nominal"])
def test_flat_branches_are_read_exactly(root_file, name):
    got = root.read_columns(root_file, name, ["is_os", "pt", "njets"])
    for column, expected in branches().items():
        np.testing.assert_array_equal(got[column], expected)


def test_tree_in_a_folder_is_read(root_file):
    got = root.read_columns(root_file, "syst/jes_up", ["pt"])
    np.testing.assert_array_equal(got["pt"], np.arange(3.0))


def test_chunks_cover_every_row_once_in_order(root_file):
    pieces = list(root.iter_chunks(root_file, "nominal", ["pt"], chunk_rows=4))
    assert [len(piece["pt"]) for piece in pieces] == [4, 2]
    np.testing.assert_array_equal(
        np.concatenate([p["pt"] for p in pieces]), branches()["pt"]
    )


def test_jagged_branch_is_refused_with_a_reason(root_file):
    with pytest.raises(InvalidData) as caught:
        root.read_columns(root_file, "nominal", ["jet_pt"])
    problem = caught.value.problems[0]
    assert problem.path == "branch 'jet_pt'"
    assert "variable-length array per event" in problem.message


def test_missing_branch_suggests_the_closest(root_file):
    with pytest.raises(InvalidData, match=r"did you mean 'njets'") as caught:
        root.read_columns(root_file, "nominal", ["njet"])
    assert caught.value.problems[0].message == "not in the tree"


def test_missing_tree_lists_the_trees_closest_first(root_file):
    with pytest.raises(InvalidData) as caught:
        root.tree_info(root_file, "nominl")
    problem = caught.value.problems[0]
    assert problem.path == "tree 'nominl'"
    assert "closest first: nominal, syst/jes_up" in problem.hint


def test_no_tree_name_with_several_trees_is_refused(root_file):
    with pytest.raises(InvalidData, match="holds 2 trees and no tree was given"):
        root.tree_info(root_file, None)


def test_rntuple_is_read_like_a_tree(tmp_path):
    path = tmp_path / "rntuple.root"
    with uproot.recreate(path) as handle:
        # Assigning a dict writes an RNTuple in recent uproot.
        handle["events"] = {"pt": np.arange(5.0), "n": np.arange(5, dtype=np.int64)}
    info = root.tree_info(path, None)
    if info.layout != "ROOT RNTuple":
        pytest.skip("this uproot writes TTrees from dicts")
    got = root.read_columns(path, "events", ["n", "pt"])
    np.testing.assert_array_equal(got["pt"], np.arange(5.0))
    np.testing.assert_array_equal(got["n"], np.arange(5))


def test_damaged_file_is_a_data_error(tmp_path, root_file):
    path = tmp_path / "cut.root"
    path.write_bytes(root_file.read_bytes()[:200])
    with pytest.raises(InvalidData, match="cannot be opened as ROOT"):
        root.list_trees(path)
