"""Toy tW and ttbar ntuples: layout, reproducibility and physics-like content."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from tw_pipeline.toydata import (
    BACKGROUND_KEY,
    SIGNAL_KEY,
    VARIABLES,
    write_toy_ntuples,
)

EVENTS = 4000
COLUMNS = {
    *VARIABLES,
    "eventNumber",
    "weight_nominal",
    "reg1j1b",
    "reg2j1b",
    "reg2j2b",
    "OS",
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_toy_ntuples(tmp_path_factory.mktemp("toy"), events=EVENTS, seed=7)


@pytest.fixture(scope="module")
def samples(files) -> dict[str, pd.DataFrame]:
    signal = pd.read_hdf(files["tW_DR"], SIGNAL_KEY)
    background = pd.concat(
        [pd.read_hdf(files[name], BACKGROUND_KEY) for name in ("ttbar_a", "ttbar_d")],
        ignore_index=True,
    )
    return {"signal": signal, "background": background}


def test_files_are_pandas_tables_under_the_usual_keys(files):
    assert sorted(path.name for path in files.values()) == [
        "tW_DR.h5",
        "ttbar_a.h5",
        "ttbar_d.h5",
    ]
    expected_keys = {"tW_DR": SIGNAL_KEY, "ttbar_a": BACKGROUND_KEY}
    expected_keys["ttbar_d"] = BACKGROUND_KEY
    for name, path in files.items():
        with pd.HDFStore(path, mode="r") as store:
            assert store.keys() == [f"/{expected_keys[name]}"]
            assert store.get_storer(expected_keys[name]).is_table


def test_each_sample_has_the_requested_events_and_all_columns(samples):
    for frame in samples.values():
        assert len(frame) == EVENTS
        assert set(frame.columns) == COLUMNS
    assert samples["signal"]["pT_lep1"].dtype == np.float32
    assert samples["signal"]["njets"].dtype == np.int32


def test_same_seed_gives_the_same_events(files, tmp_path):
    again = write_toy_ntuples(tmp_path / "again", events=EVENTS, seed=7)
    other = write_toy_ntuples(tmp_path / "other", events=EVENTS, seed=8)

    for name, path in files.items():
        first = pd.read_hdf(path)
        pd.testing.assert_frame_equal(first, pd.read_hdf(again[name]))
        assert not first.equals(pd.read_hdf(other[name]))


def test_event_numbers_are_unique_across_all_files(samples):
    numbers = pd.concat([frame["eventNumber"] for frame in samples.values()])

    assert numbers.is_unique
    assert numbers.dtype == np.int64


def test_weights_are_mostly_positive_with_a_few_percent_negative(samples):
    for frame in samples.values():
        weights = frame["weight_nominal"]
        negative = (weights < 0).mean()
        assert 0.005 < negative < 0.08
        assert weights.sum() > 0.8 * weights.abs().sum()
        assert np.isfinite(weights).all()


def test_region_flags_follow_the_jet_counts(samples):
    for frame in samples.values():
        njets, nbjets = frame["njets"], frame["nbjets"]
        assert (nbjets <= njets).all()
        assert ((frame["reg2j2b"] == 1) == ((njets == 2) & (nbjets == 2))).all()
        assert ((frame["reg1j1b"] == 1) == ((njets == 1) & (nbjets == 1))).all()
        # Second-jet quantities are zero where there is no second jet.
        one_jet = njets < 2
        assert (frame.loc[one_jet, ["pT_jet2", "mass_lep1jet2"]] == 0).all().all()
        assert (frame.loc[~one_jet, "pT_jet2"] <= frame.loc[~one_jet, "pT_jet1"]).all()


def test_the_demo_selection_keeps_both_classes(samples):
    selection = "reg2j2b == 1 and OS == 1"

    kept = {name: len(frame.query(selection)) for name, frame in samples.items()}

    assert kept["signal"] > 0.1 * EVENTS
    assert kept["background"] > 0.1 * EVENTS


def test_ttbar_has_a_lepton_jet_mass_below_the_top_endpoint_more_often(samples):
    def bounded_fraction(frame: pd.DataFrame) -> float:
        two_jets = frame[frame["njets"] >= 2]
        smaller = np.minimum(two_jets["mass_lep1jet1"], two_jets["mass_lep1jet2"])
        return float((smaller < 160).mean())

    assert (
        bounded_fraction(samples["background"])
        > bounded_fraction(samples["signal"]) + 0.1
    )


def test_classes_overlap_but_are_separable(samples):
    selection = "reg2j2b == 1 and OS == 1"
    signal = samples["signal"].query(selection)
    background = samples["background"].query(selection)
    features = pd.concat([signal, background])[list(VARIABLES)].to_numpy()
    labels = np.r_[np.ones(len(signal)), np.zeros(len(background))]
    train_x, test_x, train_y, test_y = train_test_split(
        features, labels, test_size=0.5, random_state=0, stratify=labels
    )

    model = HistGradientBoostingClassifier(max_iter=60, random_state=0)
    model.fit(train_x, train_y)
    auc = roc_auc_score(test_y, model.predict_proba(test_x)[:, 1])

    assert 0.62 < auc < 0.9


def test_too_few_events_are_refused(tmp_path):
    with pytest.raises(ValueError, match="at least 2"):
        write_toy_ntuples(tmp_path, events=1)
