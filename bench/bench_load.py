"""Benchmark the load stage against reading the same file directly.

Writes one file of 2,000,000 events (14 float columns and a weight; the signal
and the background sample are 1,000,000 events each under their own key) in a
temporary folder, in three forms: a pandas table (``to_hdf(format="table")``),
a plain PyTables table, and a ROOT file with two TTrees. For each form it
times ``load_dataset`` against the direct read of the same columns of the
same file in the same run:

* HDF5: PyTables' own ``Table.read()`` of both tables;
* ROOT: uproot's ``tree.arrays(columns, library="np")`` of both trees.

Both sides read a warm page cache (one untimed read first), alternate which
goes first, and keep the best of several repeats. Peak memory is measured in
a fresh subprocess per reader as the growth of the peak resident set size
during the call, and reported relative to the size of the loaded columns
(events x columns x 8 bytes).

Targets: throughput ratio (direct time / load time) of at least 0.70, and a
peak memory below 3 times the loaded columns.

Usage: python bench/bench_load.py [--events N] [--repeats R]
"""

# ruff: noqa: T201 - a benchmark prints its results

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from peak_memory import reset_peak, rss_status

VARIABLES = [f"var{i:02d}" for i in range(14)]
WEIGHT = "weight"
COLUMNS = [*VARIABLES, WEIGHT]
KEYS = {"signal": "sig", "background": "bkg"}

RATIO_TARGET = 0.70
MEMORY_TARGET = 3.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--memory-probe", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.memory_probe:
        kind, path = args.memory_probe
        print(json.dumps(_probe_memory(kind, Path(path))))
        return

    with tempfile.TemporaryDirectory(prefix="twpipe-bench-") as folder:
        files = _write_files(Path(folder), args.events)
        loaded_bytes = args.events * len(COLUMNS) * 8
        print(
            f"{args.events:,} events, {len(COLUMNS)} columns "
            f"({loaded_bytes / 2**20:.0f} MiB as float64); best of {args.repeats}"
        )
        print()
        header = (
            f"{'file':<16}{'direct s':>10}{'load s':>10}{'ratio':>8}"
            f"{'direct mem':>12}{'load mem':>10}"
        )
        print(header)
        print("-" * len(header))

        verdicts = []
        for form, path in files.items():
            direct = "uproot" if form == "ROOT TTree" else "pytables"
            times = _time_pair(
                lambda p=path, d=direct: _direct_read(d, p),
                lambda p=path: _load(p),
                args.repeats,
            )
            direct_mem = _memory_in_subprocess(direct, path) / loaded_bytes
            load_mem = _memory_in_subprocess("load", path) / loaded_bytes
            ratio = times[0] / times[1]
            print(
                f"{form:<16}{times[0]:>10.3f}{times[1]:>10.3f}{ratio:>8.2f}"
                f"{direct_mem:>11.2f}x{load_mem:>9.2f}x"
            )
            verdicts.append(ratio >= RATIO_TARGET and load_mem < MEMORY_TARGET)

        print()
        print(
            f"targets: ratio >= {RATIO_TARGET:.2f}, load memory < "
            f"{MEMORY_TARGET:.0f}x the loaded columns -> "
            f"{'met' if all(verdicts) else 'NOT met'}"
        )


def _write_files(folder: Path, events: int) -> dict[str, Path]:
    """The same events as a pandas table, a PyTables table and a ROOT file."""
    import pandas as pd
    import tables
    import uproot

    rng = np.random.default_rng(20240611)
    halves = {}
    for key in KEYS.values():
        count = events // 2
        columns = {name: rng.normal(size=count) for name in VARIABLES}
        columns[WEIGHT] = rng.normal(1.0, 0.3, size=count)
        halves[key] = columns

    pandas_file = folder / "events_pandas.h5"
    pytables_file = folder / "events_pytables.h5"
    root_file = folder / "events.root"
    for key, columns in halves.items():
        frame = pd.DataFrame(columns)
        frame.to_hdf(pandas_file, key=key, format="table", mode="a")
        with tables.open_file(pytables_file, "a") as handle:
            handle.create_table("/", key, obj=frame.to_records(index=False))
    with uproot.recreate(root_file) as handle:
        for key, columns in halves.items():
            tree = handle.mktree(key, {name: np.float64 for name in COLUMNS})
            step = 250_000
            for start in range(0, events // 2, step):
                tree.extend({n: v[start : start + step] for n, v in columns.items()})
    return {
        "pandas table": pandas_file,
        "PyTables table": pytables_file,
        "ROOT TTree": root_file,
    }


def _study(path: Path):  # -> Study, imported lazily with the package
    from tw_pipeline.study.models import Study

    return Study.model_validate(
        {
            "study": "bench",
            "data": {
                "samples": {
                    sample: {"class": sample, "files": [str(path)], "key": key}
                    for sample, key in KEYS.items()
                },
                "weight": WEIGHT,
            },
            "variables": VARIABLES,
        }
    )


def _load(path: Path) -> object:
    from tw_pipeline.data.load import load_dataset

    return load_dataset(_study(path))


def _direct_read(kind: str, path: Path) -> object:
    """The baseline: the library's own read of the same columns."""
    if kind == "uproot":
        import uproot

        with uproot.open(path) as handle:
            return [handle[key].arrays(COLUMNS, library="np") for key in KEYS.values()]

    import tables

    with tables.open_file(path) as handle:
        out = []
        for key in KEYS.values():
            node = handle.get_node(f"/{key}")
            # pandas keeps its rows in <key>/table; PyTables tables are the node.
            table = node.table if isinstance(node, tables.Group) else node
            out.append(table.read())
        return out


def _time_pair(
    direct: Callable[[], object], load: Callable[[], object], repeats: int
) -> tuple[float, float]:
    """Best times of both, warm cache, alternating which runs first."""
    direct()
    load()
    best = [float("inf"), float("inf")]
    for repeat in range(repeats):
        order = [(0, direct), (1, load)]
        if repeat % 2:
            order.reverse()
        for slot, function in order:
            gc.collect()
            start = time.perf_counter()
            result = function()
            best[slot] = min(best[slot], time.perf_counter() - start)
            del result
    return best[0], best[1]


def _memory_in_subprocess(kind: str, path: Path) -> int:
    """Peak resident-memory growth of one read, in a fresh interpreter."""
    command = [sys.executable, __file__, "--memory-probe", kind, str(path)]
    output = subprocess.run(command, check=True, capture_output=True, text=True)
    return int(json.loads(output.stdout.strip().splitlines()[-1])["peak_growth"])


def _probe_memory(kind: str, path: Path) -> dict[str, int]:
    """Run one read and report how far the peak RSS rose above the start."""
    # Import and warm everything first so that only the read itself counts.
    import tables  # noqa: F401
    import uproot  # noqa: F401

    from tw_pipeline.data.load import load_dataset  # noqa: F401

    _study(path)
    gc.collect()
    reset_peak()
    before = rss_status("VmRSS")
    result = _load(path) if kind == "load" else _direct_read(kind, path)
    peak = rss_status("VmHWM")
    del result
    return {"peak_growth": peak - before}


if __name__ == "__main__":
    main()
