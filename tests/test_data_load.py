"""The load stage: every event arrives, selected and weighted exactly, or an error."""

from __future__ import annotations

import logging
import os

import h5py
import numpy as np
import pandas as pd
import pytest
import tables
import uproot

from tw_pipeline.data import hdf5, root
from tw_pipeline.data.load import (
    check_data,
    data_fingerprint,
    load_dataset,
    read_columns,
)
from tw_pipeline.errors import InvalidData
from tw_pipeline.study.models import Study

VARIABLES = ["mass_lep1jet2", "pT_jet2", "njets", "OS"]


def events(count: int, seed: int, first_event: int = 0) -> pd.DataFrame:
    """Toy ntuple rows with float, int and bool columns and some negative weights."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "mass_lep1jet2": rng.uniform(20.0, 300.0, count),
            "pT_jet2": rng.uniform(25.0, 150.0, count).astype(np.float32),
            "njets": rng.integers(1, 5, count).astype(np.int32),
            "OS": rng.random(count) < 0.7,
            "reg2j2b": rng.integers(0, 2, count).astype(np.int8),
            "weight_nominal": rng.normal(1.0, 0.8, count),
            "eventNumber": np.arange(first_event, first_event + count, dtype=np.int64),
        }
    )


def write_pandas_table(path, key, frame):
    frame.to_hdf(path, key=key, format="table", mode="a")
    return key


def write_pandas_fixed(path, key, frame):
    frame.to_hdf(path, key=key, format="fixed", mode="a")
    return key


def write_pytables(path, key, frame):
    with tables.open_file(path, "a") as handle:
        handle.create_table(
            f"/nominal/{key}",
            "events",
            obj=frame.to_records(index=False),
            createparents=True,
        )
    return f"nominal/{key}/events"


def write_compound(path, key, frame):
    with h5py.File(path, "a") as handle:
        handle.create_dataset(key, data=frame.to_records(index=False))
    return key


def write_group(path, key, frame):
    with h5py.File(path, "a") as handle:
        for name, values in frame.items():
            handle[f"{key}/{name}"] = values.to_numpy()
    return key


def write_root(path, key, frame):
    opener = uproot.update if path.exists() else uproot.recreate
    with opener(path) as handle:
        tree = handle.mktree(
            key, {name: values.dtype for name, values in frame.items()}
        )
        tree.extend({name: values.to_numpy() for name, values in frame.items()})
    return key


WRITERS = {
    "pandas table": write_pandas_table,
    "pandas fixed": write_pandas_fixed,
    "PyTables table": write_pytables,
    "compound dataset": write_compound,
    "group of datasets": write_group,
    "ROOT TTree": write_root,
}


def make_study(samples: dict, variables=VARIABLES, **data) -> Study:
    return Study.model_validate(
        {
            "study": "test",
            "data": {"samples": samples, **data},
            "variables": list(variables),
        }
    )


def sample(kind, files, key=None, **extra) -> dict:
    files = [str(f) for f in (files if isinstance(files, list) else [files])]
    return {"class": kind, "files": files, "key": key, **extra}


def expected_features(frame: pd.DataFrame, variables=VARIABLES) -> np.ndarray:
    return frame[list(variables)].to_numpy(dtype=np.float64).astype(np.float32)


@pytest.fixture
def small_chunks(monkeypatch):
    """Force many chunks per table so chunk boundaries are exercised."""
    monkeypatch.setattr(hdf5, "_CHUNK_BYTES", 1)  # the reader's floor: 1024 rows
    monkeypatch.setattr(root, "_CHUNK_ROWS", 1000)


@pytest.mark.parametrize("layout", list(WRITERS))
def test_every_layout_loads_events_weights_and_labels_exactly(tmp_path, layout):
    write = WRITERS[layout]
    signal, background = events(40, seed=1), events(60, seed=2, first_event=1000)
    suffix = ".root" if layout.startswith("ROOT") else ".h5"
    sig_file, bkg_file = tmp_path / f"tW{suffix}", tmp_path / f"tt{suffix}"
    sig_key = write(sig_file, "wt_nominal", signal)
    bkg_key = write(bkg_file, "tt_nominal", background)

    study = make_study(
        {
            "tW": sample("signal", sig_file, sig_key),
            "ttbar": sample("background", bkg_file, bkg_key),
        },
        weight="weight_nominal",
        event_number="eventNumber",
    )
    dataset = load_dataset(study)

    both = pd.concat([signal, background])
    assert dataset.features.dtype == np.float32
    np.testing.assert_array_equal(dataset.features, expected_features(both))
    np.testing.assert_array_equal(dataset.weights, both["weight_nominal"].to_numpy())
    np.testing.assert_array_equal(dataset.labels, [1] * 40 + [0] * 60)
    np.testing.assert_array_equal(dataset.sample_index, [0] * 40 + [1] * 60)
    assert dataset.event_number.dtype == np.int64
    np.testing.assert_array_equal(dataset.event_number, both["eventNumber"])
    assert dataset.variables == tuple(VARIABLES)
    assert dataset.sample_names == ("tW", "ttbar")


def test_several_files_of_a_sample_are_concatenated_in_order(tmp_path, small_chunks):
    campaigns = [events(1500, seed=s, first_event=10_000 * s) for s in (1, 2, 3)]
    files = []
    for number, frame in enumerate(campaigns):
        files.append(tmp_path / f"ttbar_mc16{'ade'[number]}.h5")
        write_pandas_table(files[-1], "tt_nominal", frame)
    write_pandas_table(tmp_path / "tW.h5", "wt", events(10, seed=9))

    study = make_study(
        {
            "tW": sample("signal", tmp_path / "tW.h5"),
            "ttbar": sample("background", files, "tt_nominal"),
        },
        event_number="eventNumber",
    )
    dataset = load_dataset(study)

    ttbar = dataset.sample_index == 1
    expected = pd.concat(campaigns)
    np.testing.assert_array_equal(dataset.event_number[ttbar], expected["eventNumber"])
    np.testing.assert_array_equal(dataset.features[ttbar], expected_features(expected))
    assert dataset.summaries[1].files == tuple(str(f) for f in files)
    assert dataset.summaries[1].events_read == 4500


@pytest.mark.parametrize("layout", ["pandas table", "pandas fixed", "ROOT TTree"])
def test_every_sample_sharing_one_file_loads_completely(tmp_path, small_chunks, layout):
    # Older scripts lost most events when several samples shared a file.
    path = tmp_path / ("all.root" if layout == "ROOT TTree" else "all.h5")
    sizes = {"wt_DR": 1500, "tt_nominal": 4100, "z_jets": 2600}
    frames = {}
    for offset, (key, size) in enumerate(sizes.items()):
        frames[key] = events(size, seed=offset, first_event=100_000 * offset)
        WRITERS[layout](path, key, frames[key])

    study = make_study(
        {
            "tW": sample("signal", path, "wt_DR"),
            "ttbar": sample("background", path, "tt_nominal"),
            "zjets": sample("background", path, "z_jets"),
        },
        weight="weight_nominal",
        event_number="eventNumber",
    )
    dataset = load_dataset(study)

    assert len(dataset) == sum(sizes.values())
    for index, key in enumerate(sizes):
        rows = dataset.sample_index == index
        assert rows.sum() == sizes[key]
        np.testing.assert_array_equal(
            dataset.event_number[rows], frames[key]["eventNumber"]
        )
        np.testing.assert_array_equal(
            dataset.weights[rows], frames[key]["weight_nominal"].to_numpy()
        )


@pytest.mark.parametrize("layout", ["pandas table", "group of datasets", "ROOT TTree"])
def test_common_and_sample_selections_both_apply(tmp_path, small_chunks, layout):
    suffix = ".root" if layout == "ROOT TTree" else ".h5"
    signal, background = events(3000, seed=3), events(5000, seed=4)
    sig_key = WRITERS[layout](tmp_path / f"s{suffix}", "sig", signal)
    bkg_key = WRITERS[layout](tmp_path / f"b{suffix}", "bkg", background)

    study = make_study(
        {
            "tW": sample("signal", tmp_path / f"s{suffix}", sig_key),
            "ttbar": sample(
                "background",
                tmp_path / f"b{suffix}",
                bkg_key,
                selection="njets >= 2 and mass_lep1jet2 < 150",
            ),
        },
        selection="reg2j2b == 1 and OS",
        weight="weight_nominal",
    )
    dataset = load_dataset(study)

    common = lambda f: (f["reg2j2b"] == 1) & f["OS"]  # noqa: E731
    sig_kept = signal[common(signal)]
    bkg_kept = background[
        common(background)
        & (background["njets"] >= 2)
        & (background["mass_lep1jet2"] < 150)
    ]
    np.testing.assert_array_equal(
        dataset.features, expected_features(pd.concat([sig_kept, bkg_kept]))
    )
    summary = dataset.summaries[1]
    assert (summary.events_read, summary.events_selected) == (5000, len(bkg_kept))


def test_weights_are_scaled_and_keep_their_sign(tmp_path):
    signal, background = events(200, seed=5), events(300, seed=6)
    write_pandas_table(tmp_path / "s.h5", "s", signal)
    write_pandas_table(tmp_path / "b.h5", "b", background)
    study = make_study(
        {
            "tW": sample("signal", tmp_path / "s.h5", scale=2.5),
            "ttbar": sample("background", tmp_path / "b.h5"),
        },
        weight="weight_nominal",
    )
    dataset = load_dataset(study)

    weights = signal["weight_nominal"].to_numpy() * 2.5
    assert (weights < 0).any()
    np.testing.assert_allclose(dataset.weights[:200], weights, rtol=0, atol=0)
    summary = dataset.summaries[0]
    assert summary.negative_weight_events == int((weights < 0).sum())
    assert summary.sum_weights == pytest.approx(weights.sum())
    assert summary.effective_events == pytest.approx(
        weights.sum() ** 2 / (weights**2).sum()
    )


def test_without_a_weight_column_every_event_weighs_its_scale(tmp_path):
    write_pandas_table(tmp_path / "s.h5", "s", events(10, seed=1))
    write_pandas_table(tmp_path / "b.h5", "b", events(20, seed=2))
    study = make_study(
        {
            "tW": sample("signal", tmp_path / "s.h5", scale=0.5),
            "ttbar": sample("background", tmp_path / "b.h5"),
        }
    )
    dataset = load_dataset(study)
    np.testing.assert_array_equal(dataset.weights, [0.5] * 10 + [1.0] * 20)
    assert dataset.summaries[1].effective_events == pytest.approx(20.0)
    assert dataset.event_number is None


def test_bool_and_integer_columns_become_float_features(tmp_path):
    frame = events(50, seed=7)
    write_compound(tmp_path / "s.h5", "s", frame)
    write_compound(tmp_path / "b.h5", "b", frame)
    study = make_study(
        {
            "tW": sample("signal", tmp_path / "s.h5"),
            "ttbar": sample("background", tmp_path / "b.h5"),
        },
        variables=["OS", "njets", "reg2j2b"],
    )
    dataset = load_dataset(study)
    np.testing.assert_array_equal(
        dataset.features[:50, 0], frame["OS"].astype(np.float32)
    )
    np.testing.assert_array_equal(
        dataset.features[:50, 1], frame["njets"].astype(np.float32)
    )
    assert set(np.unique(dataset.features[:, 2])) <= {0.0, 1.0}


def test_integral_float_event_numbers_are_accepted(tmp_path):
    frame = events(30, seed=1).assign(eventNumber=lambda f: f["eventNumber"] * 1.0)
    write_pandas_table(tmp_path / "s.h5", "s", frame)
    write_pandas_table(tmp_path / "b.h5", "b", frame)
    study = make_study(
        {
            "tW": sample("signal", tmp_path / "s.h5"),
            "ttbar": sample("background", tmp_path / "b.h5"),
        },
        event_number="eventNumber",
    )
    dataset = load_dataset(study)
    assert dataset.event_number.dtype == np.int64
    np.testing.assert_array_equal(dataset.event_number[:30], np.arange(30))


def test_fractional_event_numbers_are_refused(tmp_path):
    frame = events(30, seed=1).assign(eventNumber=lambda f: f["eventNumber"] + 0.5)
    write_pandas_table(tmp_path / "s.h5", "s", frame)
    write_pandas_table(tmp_path / "b.h5", "b", events(30, seed=2))
    study = make_study(
        {
            "tW": sample("signal", tmp_path / "s.h5"),
            "ttbar": sample("background", tmp_path / "b.h5"),
        },
        event_number="eventNumber",
    )
    with pytest.raises(InvalidData, match="not whole numbers") as caught:
        load_dataset(study)
    assert caught.value.problems[0].source.startswith("sample 'tW', ")


@pytest.fixture
def with_bad_values(tmp_path):
    """A signal file with NaN and infinite values in known rows."""
    frame = events(2500, seed=8)
    frame.loc[[3, 1500, 2400], "mass_lep1jet2"] = np.nan
    frame.loc[[7], "mass_lep1jet2"] = np.inf
    frame.loc[[11, 1200], "weight_nominal"] = -np.inf
    frame["OS"] = True
    write_pandas_table(tmp_path / "s.h5", "s", frame)
    write_pandas_table(tmp_path / "b.h5", "b", events(100, seed=9))
    return frame


def bad_value_study(tmp_path, **data) -> Study:
    return make_study(
        {
            "tW": sample("signal", tmp_path / "s.h5"),
            "ttbar": sample("background", tmp_path / "b.h5"),
        },
        weight="weight_nominal",
        **data,
    )


def test_non_finite_values_fail_with_counts_and_rows(
    tmp_path, small_chunks, with_bad_values
):
    with pytest.raises(InvalidData) as caught:
        load_dataset(bad_value_study(tmp_path))
    problems = {p.path: p for p in caught.value.problems}
    assert set(problems) == {"column 'mass_lep1jet2'", "column 'weight_nominal'"}
    mass = problems["column 'mass_lep1jet2'"]
    assert mass.source.startswith("sample 'tW', ")
    assert mass.source.endswith("s.h5 [s]")
    assert "3 NaN and 1 infinite value(s)" in mass.message
    assert "(table rows 3, 7, 1500, 2400)" in mass.message
    assert "data.non_finite: drop" in mass.hint
    assert "(table rows 11, 1200)" in problems["column 'weight_nominal'"].message


def test_non_finite_values_cut_by_the_selection_do_not_matter(
    tmp_path, with_bad_values
):
    dataset = load_dataset(
        bad_value_study(
            tmp_path, selection="abs(weight_nominal) < 1e300 and mass_lep1jet2 < 1e300"
        )
    )
    assert np.isfinite(dataset.features).all()
    assert dataset.summaries[0].events_selected == 2500 - 6


def test_non_finite_values_are_dropped_on_request(
    tmp_path, small_chunks, with_bad_values, caplog
):
    caplog.set_level(logging.WARNING, logger="tw_pipeline.data.load")
    dataset = load_dataset(bad_value_study(tmp_path, non_finite="drop"))

    keep = np.ones(2500, dtype=bool)
    keep[[3, 1500, 2400, 7, 11, 1200]] = False
    np.testing.assert_array_equal(
        dataset.features[:2494], expected_features(with_bad_values[keep])
    )
    np.testing.assert_array_equal(
        dataset.weights[:2494], with_bad_values["weight_nominal"].to_numpy()[keep]
    )
    assert dataset.summaries[0].events_selected == 2494
    assert "mass_lep1jet2: 4, weight_nominal: 2" in caplog.text


def test_sample_empty_after_selection_is_refused(tmp_path):
    write_pandas_table(tmp_path / "s.h5", "s", events(100, seed=1))
    write_pandas_table(tmp_path / "b.h5", "b", events(100, seed=2))
    study = make_study(
        {
            "tW": sample("signal", tmp_path / "s.h5"),
            "ttbar": sample("background", tmp_path / "b.h5", selection="njets > 10"),
        },
        selection="OS == 1",
    )
    with pytest.raises(InvalidData) as caught:
        load_dataset(study)
    problem = caught.value.problems[0]
    assert problem.source == "sample 'ttbar'"
    assert "no event passes the selection 'OS == 1' and 'njets > 10'" in problem.message
    assert "100 events read" in problem.message
    assert problem.path == "data.selection, data.samples.ttbar.selection"


def test_sample_whose_files_hold_no_events_is_refused(tmp_path):
    write_compound(tmp_path / "s.h5", "s", events(0, seed=1))
    write_compound(tmp_path / "b.h5", "b", events(10, seed=2))
    study = make_study(
        {
            "tW": sample("signal", tmp_path / "s.h5"),
            "ttbar": sample("background", tmp_path / "b.h5"),
        }
    )
    with pytest.raises(InvalidData, match="its files hold no events") as caught:
        load_dataset(study)
    assert caught.value.problems[0].source == "sample 'tW'"


def test_error_message_names_sample_file_key_and_closest_column(tmp_path):
    write_pandas_table(tmp_path / "tt.h5", "tt_nominal", events(10, seed=1))
    write_pandas_table(tmp_path / "tW.h5", "wt", events(10, seed=2))
    study = make_study(
        {
            "tW": sample("signal", tmp_path / "tW.h5"),
            "ttbar": sample("background", tmp_path / "tt.h5", "tt_nominal"),
        },
        variables=["mass_lep1jet3", "pT_jet2"],
    )
    with pytest.raises(InvalidData) as caught:
        load_dataset(study)
    text = str(caught.value)
    assert "sample 'ttbar', " in text
    assert (
        "tt.h5 [tt_nominal]: column 'mass_lep1jet3': "
        "not in the table (named in variables)" in text
    )
    assert (
        "hint: did you mean 'mass_lep1jet2'? "
        "The table has 7 columns; run `twpipe inspect" in text
    )
    # Both samples lack the column: both are reported at once.
    assert len(caught.value.problems) == 2


def test_missing_selection_column_names_the_selection(tmp_path):
    write_pandas_table(tmp_path / "s.h5", "s", events(10, seed=1))
    write_pandas_table(tmp_path / "b.h5", "b", events(10, seed=2))
    study = make_study(
        {
            "tW": sample("signal", tmp_path / "s.h5"),
            "ttbar": sample("background", tmp_path / "b.h5"),
        },
        selection="nbjets == 1",
    )
    with pytest.raises(InvalidData, match=r"named in data.selection"):
        load_dataset(study)


def test_missing_file_and_missing_key_are_reported_together(tmp_path):
    write_pandas_table(tmp_path / "b.h5", "tt_nominal", events(10, seed=2))
    write_pandas_table(tmp_path / "b.h5", "tt_syst", events(10, seed=2))
    study = make_study(
        {
            "tW": sample("signal", tmp_path / "missing.h5"),
            "ttbar": sample("background", tmp_path / "b.h5", "tt_nomnal"),
        }
    )
    with pytest.raises(InvalidData) as caught:
        load_dataset(study)
    missing_file, missing_key = caught.value.problems
    assert missing_file.message == "file not found"
    assert missing_file.source.startswith("sample 'tW', ")
    assert missing_key.path == "key 'tt_nomnal'"
    assert "closest first: tt_nominal, tt_syst" in missing_key.hint


def test_non_numeric_column_is_refused(tmp_path):
    frame = events(10, seed=1).assign(process=["ttbar"] * 10)
    write_pandas_table(tmp_path / "s.h5", "s", frame)
    write_pandas_table(tmp_path / "b.h5", "b", frame)
    study = make_study(
        {
            "tW": sample("signal", tmp_path / "s.h5"),
            "ttbar": sample("background", tmp_path / "b.h5"),
        },
        variables=["process"],
    )
    with pytest.raises(InvalidData, match="holds text") as caught:
        load_dataset(study)
    assert caught.value.problems[0].path == "column 'process'"


def test_bad_selection_is_reported_before_anything_is_read(tmp_path):
    study = make_study(
        {
            "tW": sample("signal", tmp_path / "missing.h5", selection="open('x') > 0"),
            "ttbar": sample("background", tmp_path / "missing.h5"),
        },
        selection="njets >= 2 && OS",
    )
    with pytest.raises(InvalidData) as caught:
        load_dataset(study)
    sources = [p.source for p in caught.value.problems]
    assert sources[0] == "data.selection"
    assert "data.samples.tW.selection" in sources
    assert any("file not found" in p.message for p in caught.value.problems)


def test_selection_failing_on_values_names_sample_and_file(tmp_path):
    write_pandas_table(tmp_path / "s.h5", "s", events(10, seed=1))
    write_pandas_table(tmp_path / "b.h5", "b", events(10, seed=2))
    study = make_study(
        {
            "tW": sample("signal", tmp_path / "s.h5"),
            "ttbar": sample("background", tmp_path / "b.h5"),
        },
        selection="mass_lep1jet2 & njets",
    )
    with pytest.raises(InvalidData) as caught:
        load_dataset(study)
    problem = caught.value.problems[0]
    assert problem.source.startswith("sample 'tW', ") and problem.source.endswith("[s]")
    assert problem.path == "data.selection"


def test_a_file_listed_twice_is_refused(tmp_path):
    write_pandas_table(tmp_path / "s.h5", "s", events(10, seed=1))
    study = make_study(
        {
            "tW": sample("signal", [tmp_path / "s.h5", tmp_path / "s.h5"]),
            "ttbar": sample("background", tmp_path / "s.h5"),
        }
    )
    with pytest.raises(InvalidData, match="listed twice"):
        load_dataset(study)


def test_check_data_counts_events_without_loading(tmp_path):
    write_pandas_table(tmp_path / "s.h5", "s", events(10, seed=1))
    write_root(tmp_path / "b.root", "b", events(25, seed=2))
    study = make_study(
        {
            "tW": sample("signal", tmp_path / "s.h5"),
            "ttbar": sample("background", tmp_path / "b.root"),
        },
        selection="njets > 100",
    )
    assert check_data(study) == {"tW": 10, "ttbar": 25}


def test_data_fingerprint_is_stable_and_follows_the_files(tmp_path):
    write_pandas_table(tmp_path / "s.h5", "s", events(10, seed=1))
    write_pandas_table(tmp_path / "b.h5", "b", events(10, seed=2))
    study = make_study(
        {
            "tW": sample("signal", tmp_path / "s.h5"),
            "ttbar": sample("background", tmp_path / "b.h5"),
        }
    )
    first = data_fingerprint(study)
    assert first == data_fingerprint(study)
    assert len(first) == 64

    stat = os.stat(tmp_path / "b.h5")
    os.utime(tmp_path / "b.h5", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert data_fingerprint(study) != first


def test_data_fingerprint_of_a_missing_file_is_a_data_error(tmp_path):
    study = make_study(
        {
            "tW": sample("signal", tmp_path / "s.h5"),
            "ttbar": sample("background", tmp_path / "b.h5"),
        }
    )
    with pytest.raises(InvalidData, match="cannot be read"):
        data_fingerprint(study)


def test_read_columns_reads_either_format(tmp_path):
    frame = events(12, seed=1)
    write_pytables(tmp_path / "t.h5", "t", frame)
    write_root(tmp_path / "t.root", "t", frame)
    from_hdf5 = read_columns(tmp_path / "t.h5", None, ["njets", "mass_lep1jet2"])
    from_root = read_columns(tmp_path / "t.root", "t", ["njets", "mass_lep1jet2"])
    for got in (from_hdf5, from_root):
        np.testing.assert_array_equal(got["njets"], frame["njets"])
        np.testing.assert_array_equal(got["mass_lep1jet2"], frame["mass_lep1jet2"])


def test_load_logs_one_line_per_sample(tmp_path, caplog):
    write_pandas_table(tmp_path / "s.h5", "s", events(10, seed=1))
    write_pandas_table(tmp_path / "b.h5", "b", events(20, seed=2))
    study = make_study(
        {
            "tW": sample("signal", tmp_path / "s.h5"),
            "ttbar": sample("background", tmp_path / "b.h5"),
        },
        selection="njets >= 1",
    )
    caplog.set_level(logging.INFO, logger="tw_pipeline.data.load")
    load_dataset(study)
    lines = [
        r.getMessage() for r in caplog.records if r.name == "tw_pipeline.data.load"
    ]
    assert lines[0].startswith(
        "sample tW (signal): 10 of 10 events selected from 1 file(s)"
    )
    assert "effective events 10.0" in lines[0]
    assert lines[1].startswith("sample ttbar (background): 20 of 20 events")
