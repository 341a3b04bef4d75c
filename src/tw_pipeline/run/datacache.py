"""Load each distinct data configuration of a study once.

Sweep points usually differ in the network or the optimizer, not in the
data; they then share one loaded dataset. Points that sweep the data (for
instance the variable list) get one load per distinct data configuration.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence

from tw_pipeline.data.dataset import Dataset
from tw_pipeline.study.models import Study
from tw_pipeline.study.sweep import Point

__all__ = ["data_key", "load_for_points"]

log = logging.getLogger(__name__)


def data_key(study: Study) -> str:
    """Identify what the load stage depends on: data, variables, decorrelated column."""
    payload = {
        "data": study.data.model_dump(mode="json", by_alias=True),
        "variables": list(study.variables),
        # The column an adversary decorrelates from is loaded with the events.
        "decorrelated": None if study.adversary is None else study.adversary.variable,
    }
    return json.dumps(payload, sort_keys=True)


def load_for_points(points: Sequence[tuple[Point, Study]]) -> dict[str, Dataset]:
    """Load the data of every point, once per distinct data configuration.

    Returns:
        data key -> dataset; look a point up with :func:`data_key`.
    """
    # Imported here so that `twpipe validate` without --data never pays for
    # the HDF5 and ROOT readers.
    from tw_pipeline.data.load import load_dataset

    datasets: dict[str, Dataset] = {}
    for _, study in points:
        key = data_key(study)
        if key not in datasets:
            started = time.perf_counter()
            datasets[key] = load_dataset(study)
            log.info(
                "%d events of %d samples loaded in %.2fs",
                len(datasets[key]),
                len(study.data.samples),
                time.perf_counter() - started,
            )
    if len(datasets) > 1:
        log.info("%d distinct data configurations loaded", len(datasets))
    return datasets
