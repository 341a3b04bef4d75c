"""Toy ntuples for the demo and the tests: tW signal against ttbar background.

The events imitate a dilepton tW analysis closely enough that the demo looks
like the real thing: the usual variable names, jet and b-jet multiplicities
with region flags, MC-like event weights of which a few percent are negative
(as in NLO generators), and a unique event number. They are not a physics
simulation; the distributions are drawn from simple shapes chosen so that the
classes overlap but a small network separates them (AUC about 0.75 in the
two-jet, two-b-tag region and about 0.8 on all events).

The separating idea is the one of the real analysis: in ttbar both b-jets come
from top decays, so one lepton-jet mass is bounded by the top-quark endpoint
(about 153 GeV), while in tW the second jet is usually not from a top decay.

A systematic variation of the signal can be written too: ``tW_DS.h5``
imitates the diagram-subtraction tW sample, which differs from the nominal
(diagram-removal) one where tW interferes with ttbar, i.e. in events whose
second jet is a b-jet from a top decay. Its second jet is harder and more
often paired with the leading lepton, so a classifier that leans on the
second jet responds differently to it: the shift the adversarial training
(``adversary`` section) is there to remove.

``twpipe toy-data DIR`` writes them all from the command line.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from tw_pipeline.run.atomic import atomic_path

__all__ = [
    "BACKGROUND_KEY",
    "SIGNAL_KEY",
    "SYSTEMATIC_KEY",
    "VARIABLES",
    "write_toy_ntuples",
]

log = logging.getLogger(__name__)

SIGNAL_KEY = "wt_DR_nominal"
BACKGROUND_KEY = "tt_nominal"
SYSTEMATIC_KEY = "wt_DS_nominal"

# Kinematic columns usable as network inputs (energies and momenta in GeV).
VARIABLES = (
    "mass_lep1jet1",
    "mass_lep1jet2",
    "deltaR_lep1_jet1",
    "pT_lep1",
    "pT_lep2",
    "pT_jet1",
    "pT_jet2",
    "met",
    "njets",
    "nbjets",
)

# Upper end of the lepton-b-jet mass in a top decay: sqrt(m_t^2 - m_W^2).
_MLB_ENDPOINT = np.sqrt(172.5**2 - 80.4**2)


def write_toy_ntuples(
    directory: Path, events: int = 20000, seed: int = 7, *, systematic: bool = False
) -> dict[str, Path]:
    """Write toy tW and ttbar ntuples as pandas HDF5 tables.

    Writes ``tW_DR.h5`` (key ``wt_DR_nominal``) and the ttbar events split
    over ``ttbar_a.h5`` and ``ttbar_d.h5`` (key ``tt_nominal``), as MC
    campaigns are, to show a sample made of several files. With
    ``systematic``, also ``tW_DS.h5`` (key ``wt_DS_nominal``), the signal's
    systematic variation; it is drawn from a generator of its own, so the
    other files are the same with or without it.

    Args:
        directory: folder receiving the files; created when missing.
        events: events per sample (ttbar's are shared between its two files).
        seed: seed of the generator; the same seed gives the same events.
        systematic: also write the systematic tW sample.

    Returns:
        The written files by name (file name without suffix).

    Raises:
        ValueError: if ``events`` is below 2.
    """
    if events < 2:
        msg = f"events must be at least 2 (one per ttbar file); got {events}"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    directory = Path(directory)

    # Event numbers are drawn once for all samples so they never repeat.
    numbers = rng.choice(2**40, size=2 * events, replace=False).astype(np.int64)
    signal = _events(rng, events, is_signal=True, event_numbers=numbers[:events])
    background = _events(rng, events, is_signal=False, event_numbers=numbers[events:])

    half = events // 2
    tables = {
        "tW_DR": (signal, SIGNAL_KEY),
        "ttbar_a": (background.iloc[:half].reset_index(drop=True), BACKGROUND_KEY),
        "ttbar_d": (background.iloc[half:].reset_index(drop=True), BACKGROUND_KEY),
    }
    if systematic:
        varied_rng = np.random.default_rng([seed, 1])
        # Above every nominal event number, so none repeats.
        varied_numbers = 2**40 + varied_rng.choice(2**40, size=events, replace=False)
        varied = _events(
            varied_rng,
            events,
            is_signal=True,
            event_numbers=varied_numbers.astype(np.int64),
            subtraction=True,
        )
        tables["tW_DS"] = (varied, SYSTEMATIC_KEY)
    written = {}
    for name, (frame, key) in tables.items():
        path = directory / f"{name}.h5"
        with atomic_path(path) as temporary:
            frame.to_hdf(temporary, key=key, mode="w", format="table")
        written[name] = path
        log.info("wrote %d toy events to %s (key %s)", len(frame), path, key)
    return written


def _events(
    rng: np.random.Generator,
    n: int,
    *,
    is_signal: bool,
    event_numbers: np.ndarray,
    subtraction: bool = False,
) -> pd.DataFrame:
    """Draw ``n`` events of one process as a table of ntuple columns.

    ``subtraction`` draws the diagram-subtraction variant of tW: a harder
    second jet that is more often the b-jet of the lepton's top.
    """
    # Jet multiplicities: ttbar has two b-jets from the top decays and more
    # jets overall; tW has one b-jet and fewer jets.
    if is_signal:
        njets = rng.choice([1, 2, 3, 4, 5], size=n, p=[0.25, 0.45, 0.18, 0.08, 0.04])
        first_b, other_b = 0.80, 0.45
    else:
        njets = rng.choice([1, 2, 3, 4, 5], size=n, p=[0.08, 0.42, 0.28, 0.14, 0.08])
        first_b, other_b = 0.85, 0.70
    nbjets = (rng.random(n) < first_b).astype(np.int64)
    nbjets += rng.binomial(np.maximum(njets - 1, 0), other_b)
    nbjets = np.minimum(nbjets, 2)
    two_jets = njets >= 2

    # Transverse momenta: leading objects above trigger-like thresholds; the
    # second jet of tW is mostly soft radiation, in ttbar a b from a top.
    pt_lep1 = 27.0 + rng.gamma(2.0, 26.0 if is_signal else 29.0, n)
    pt_lep2 = 20.0 + (pt_lep1 - 20.0) * rng.beta(2.0, 2.5, n)
    pt_jet1 = 25.0 + rng.gamma(2.0, 34.0 if is_signal else 40.0, n)
    shape, scale = (1.6, 24.0) if is_signal else (2.2, 28.0)
    if subtraction:
        shape, scale = (2.0, 30.0)
    pt_jet2 = np.minimum(25.0 + rng.gamma(shape, scale, n), pt_jet1)
    met = rng.gamma(2.2, 28.0 if is_signal else 31.0, n)

    # Which jet, if any, comes from the same top as the leading lepton.
    if is_signal:
        lepton_from_top = rng.random(n) < 0.4
        jet1_paired = lepton_from_top & (rng.random(n) < 0.65)
        second = 0.45 if subtraction else 0.08
        jet2_paired = lepton_from_top & ~jet1_paired & (rng.random(n) < second)
    else:
        one_paired = rng.random(n) < 0.93
        jet1_paired = one_paired & (rng.random(n) < 0.55)
        jet2_paired = one_paired & ~jet1_paired
    mass_jet1 = _lepton_jet_mass(rng, jet1_paired)
    mass_jet2 = _lepton_jet_mass(rng, jet2_paired)

    # The angle follows from the mass and momenta (m^2 ~ pT1 pT2 dR^2 for
    # small angles), which correlates the inputs as in real events.
    delta_r = mass_jet1 / np.sqrt(pt_lep1 * pt_jet1) * rng.normal(1.0, 0.12, n)
    delta_r = np.clip(delta_r, 0.4, 5.0)

    # MC weights: cross-section times luminosity over generated events, with
    # generator spread, and a few percent negative as from NLO matching.
    scale, negative = (0.021, 0.04) if is_signal else (0.12, 0.02)
    weight = scale * rng.lognormal(0.0, 0.3, n)
    weight = np.where(rng.random(n) < negative, -weight, weight)

    # A few percent of same-sign lepton pairs (fakes, charge flips).
    opposite_sign = rng.random(n) < (0.97 if is_signal else 0.96)

    columns = {
        "eventNumber": event_numbers,
        "mass_lep1jet1": mass_jet1,
        "mass_lep1jet2": np.where(two_jets, mass_jet2, 0.0),
        "deltaR_lep1_jet1": delta_r,
        "pT_lep1": pt_lep1,
        "pT_lep2": pt_lep2,
        "pT_jet1": pt_jet1,
        "pT_jet2": np.where(two_jets, pt_jet2, 0.0),
        "met": met,
        "njets": njets,
        "nbjets": nbjets,
        "reg1j1b": (njets == 1) & (nbjets == 1),
        "reg2j1b": (njets == 2) & (nbjets == 1),
        "reg2j2b": (njets == 2) & (nbjets == 2),
        "OS": opposite_sign,
        "weight_nominal": weight,
    }
    frame = pd.DataFrame(columns)
    # Ntuple-like types: single-precision kinematics, integer counts and flags.
    integers = ("njets", "nbjets", "reg1j1b", "reg2j1b", "reg2j2b", "OS")
    types = {
        name: np.int32 if name in integers else np.float32
        for name in columns
        if name != "eventNumber"
    }
    return frame.astype(types)


def _lepton_jet_mass(rng: np.random.Generator, paired: np.ndarray) -> np.ndarray:
    """Lepton-jet masses: below the top endpoint when paired, broad otherwise."""
    n = paired.size
    # Decay products of one top: a rising shape up to the endpoint, smeared
    # by the detector resolution.
    from_top = _MLB_ENDPOINT * np.sqrt(rng.beta(2.0, 1.4, n)) + rng.normal(0.0, 9.0, n)
    # Unrelated lepton and jet: a broad spectrum with a long tail.
    unrelated = 40.0 + rng.gamma(3.0, 65.0, n)
    return np.abs(np.where(paired, from_top, unrelated))
