"""Keep a loaded dataset on disk as plain arrays that processes map into memory.

When points run in parallel processes, each would otherwise read and select
the ntuples again and hold its own copy of the events. Instead the parent
loads once and saves the arrays as ``.npy`` files; every worker opens them
memory-mapped, so the operating system shares one copy between them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from tw_pipeline.data.dataset import Dataset, SampleSummary
from tw_pipeline.run import atomic

__all__ = ["open_dataset", "save_dataset"]

_ARRAYS = (
    "features",
    "labels",
    "weights",
    "sample_index",
    "event_number",
    "decorrelated",
)
# Subfolder holding the systematic samples' events, stored the same way.
_SYSTEMATIC = "systematic"


def save_dataset(dataset: Dataset, folder: Path) -> Path:
    """Write ``dataset`` into ``folder`` (created if needed) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in _ARRAYS:
        array = getattr(dataset, name)
        if array is None:
            continue
        with atomic.atomic_path(folder / f"{name}.npy") as temporary:
            np.save(temporary, np.ascontiguousarray(array), allow_pickle=False)

    meta = {
        "variables": list(dataset.variables),
        "sample_names": list(dataset.sample_names),
        "summaries": [dataclasses.asdict(summary) for summary in dataset.summaries],
        "has_event_number": dataset.event_number is not None,
        "has_systematic": dataset.systematic is not None,
    }
    if dataset.systematic is not None:
        save_dataset(dataset.systematic, folder / _SYSTEMATIC)
    # Written last: a folder with meta.json holds a complete dataset.
    atomic.write_json(folder / "meta.json", meta)
    return folder


def open_dataset(folder: Path) -> Dataset:
    """Open a dataset saved by :func:`save_dataset`, arrays memory-mapped."""
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    arrays = {}
    for name in _ARRAYS:
        path = folder / f"{name}.npy"
        arrays[name] = np.load(path, mmap_mode="r") if path.exists() else None
    summaries = tuple(
        SampleSummary(**{**summary, "files": tuple(summary["files"])})
        for summary in meta["summaries"]
    )
    return Dataset(
        features=arrays["features"],
        labels=arrays["labels"],
        weights=arrays["weights"],
        sample_index=arrays["sample_index"],
        event_number=arrays["event_number"] if meta["has_event_number"] else None,
        variables=tuple(meta["variables"]),
        sample_names=tuple(meta["sample_names"]),
        summaries=summaries,
        decorrelated=arrays["decorrelated"],
        systematic=(
            open_dataset(folder / _SYSTEMATIC) if meta.get("has_systematic") else None
        ),
    )
