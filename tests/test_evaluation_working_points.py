"""Working points and the cut scan against brute-force loops over cuts."""

from __future__ import annotations

import numpy as np
import pytest

from tw_pipeline.evaluation.cut_scan import best_cut, cut_scan
from tw_pipeline.evaluation.outcome import Scored
from tw_pipeline.evaluation.significance import EventYields
from tw_pipeline.evaluation.working_points import working_points


def scored(rng, n=600, shift=1.0, negative=0.0):
    labels = (rng.random(n) < 0.4).astype(np.int8)
    scores = 1 / (1 + np.exp(-(rng.normal(size=n) + shift * (2 * labels - 1))))
    weights = rng.lognormal(0, 0.4, n)
    weights[rng.random(n) < negative] *= -1
    return Scored(scores, labels, weights, labels.astype(np.int16))


def efficiencies(events, cut):
    passed = events.scores >= cut
    sig, bkg = events.labels == 1, events.labels == 0
    return (
        events.weights[passed & sig].sum() / events.weights[sig].sum(),
        events.weights[passed & bkg].sum() / events.weights[bkg].sum(),
    )


@pytest.mark.parametrize("negative", [0.0, 0.05])
def test_working_points_are_the_best_cuts_found_by_brute_force(negative):
    events = scored(np.random.default_rng(1), negative=negative)
    cuts = np.unique(events.scores)
    effs = np.array([efficiencies(events, cut) for cut in cuts])

    result = working_points(events)

    for target, entry in result["signal_efficiency"].items():
        allowed = effs[:, 1] <= float(target) + 1e-9
        expected = max(effs[allowed, 0].max(initial=0.0), 0.0)
        assert entry["value"] == pytest.approx(expected)
        if entry["cut"] is not None:
            assert efficiencies(events, entry["cut"])[0] == pytest.approx(
                entry["value"]
            )
    for target, entry in result["background_rejection"].items():
        allowed = effs[:, 0] >= float(target) - 1e-9
        assert entry["value"] == pytest.approx(1 - effs[allowed, 1].min())
        assert 1 - efficiencies(events, entry["cut"])[1] == pytest.approx(
            entry["value"]
        )


def test_fully_separated_classes_reach_every_working_point():
    labels = np.r_[np.ones(100), np.zeros(300)].astype(np.int8)
    scores = np.r_[np.linspace(0.6, 1, 100), np.linspace(0, 0.4, 300)]
    events = Scored(scores, labels, np.ones(400), labels)

    result = working_points(events)

    assert all(e["value"] == 1.0 for e in result["signal_efficiency"].values())
    assert all(e["value"] == 1.0 for e in result["background_rejection"].values())


def test_identical_classes_give_signal_efficiency_equal_to_background_efficiency():
    rng = np.random.default_rng(2)
    n = 20000
    labels = (rng.random(n) < 0.5).astype(np.int8)
    events = Scored(rng.random(n), labels, np.ones(n), labels)

    result = working_points(events)

    for target, entry in result["signal_efficiency"].items():
        assert entry["value"] == pytest.approx(float(target), abs=0.02)
    for target, entry in result["background_rejection"].items():
        assert entry["value"] == pytest.approx(1 - float(target), abs=0.02)


def test_cut_scan_matches_direct_sums_for_the_yields():
    events = scored(np.random.default_rng(3), negative=0.03)
    yields = EventYields(signal=40.0, background=900.0, source="study")

    scan = cut_scan(events, yields, points=11)

    for i, cut in enumerate(scan.cuts):
        eff_s, eff_b = efficiencies(events, cut)
        s, b = 40.0 * eff_s, 900.0 * eff_b
        assert scan.signal_efficiency[i] == pytest.approx(eff_s)
        assert scan.background_efficiency[i] == pytest.approx(eff_b)
        if s + b > 0:
            assert scan.purity[i] == pytest.approx(s / (s + b))
            assert scan.significance[i] == pytest.approx(s / np.sqrt(s + b))
    assert scan.signal_efficiency[0] == pytest.approx(1.0)
    best = best_cut(scan)
    assert best["significance"] == pytest.approx(np.nanmax(scan.significance))
    assert scan.to_csv().splitlines()[0].startswith("cut,signal_efficiency")


def test_yields_default_to_the_sums_of_weights():
    from tw_pipeline.study.models import Study

    study = Study.model_validate(
        {
            "study": "s",
            "variables": ["x"],
            "data": {
                "samples": {
                    "a": {"class": "signal", "files": ["a.h5"]},
                    "b": {"class": "background", "files": ["b.h5"]},
                }
            },
        }
    )
    labels = np.array([1, 1, 0])
    yields = EventYields.for_study(study, labels, np.array([0.5, 1.5, 7.0]))

    assert (yields.signal, yields.background, yields.source) == (2.0, 7.0, "weights")
