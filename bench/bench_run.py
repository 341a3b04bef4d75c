"""Benchmark whole runs: a sweep with --jobs 1 against --jobs 2, and peak memory.

Writes its own ntuples (HDF5, 14 variables and a weight) and a study into a
temporary folder, then:

* runs an 8-point sweep (small networks, few epochs) with ``twpipe run
  --jobs 1`` and with ``--jobs 2``, each in a fresh process and run folder,
  and reports the wall times, their ratio, how often the data was loaded and
  how many fold preparations were shared between points;
* runs one point on 2,000,000 events in a fresh process and reports the
  growth of its peak resident memory against the size of the loaded arrays,
  after a tiny warm-up run has brought in what every run needs whatever its
  size (TensorFlow's runtime, matplotlib, scikit-learn).

Targets: --jobs 2 at least 1.6 times faster than --jobs 1 on two cores; the
data loaded once per sweep; peak memory at most 3 times the loaded arrays.

Usage: python bench/bench_run.py [--sweep-events N] [--memory-events N]
       [--only sweep|memory]
"""

# ruff: noqa: T201 - a benchmark prints its results

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from peak_memory import reset_peak, rss_status

N_VARIABLES = 14
VARIABLES = [f"var{i:02d}" for i in range(N_VARIABLES)]
SPEEDUP_TARGET = 1.6
MEMORY_TARGET = 3.0

SWEEP = {
    "network.nodes": [16, 32],
    "network.hidden_layers": [2, 3],
    "optimizer.learning_rate": [0.001, 0.003],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep-events", type=int, default=100_000)
    parser.add_argument("--memory-events", type=int, default=2_000_000)
    parser.add_argument("--only", choices=("sweep", "memory"),
                        help="run one of the two parts")
    parser.add_argument("--memory-probe", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.memory_probe:
        study, warm_up = (Path(path) for path in args.memory_probe)
        print(json.dumps(_probe_memory(study, warm_up)))
        return

    with tempfile.TemporaryDirectory(prefix="twpipe-bench-") as name:
        folder = Path(name)
        if args.only != "memory":
            sweep_report(folder / "sweep", args.sweep_events)
            print()
        if args.only != "sweep":
            memory_report(folder / "memory", args.memory_events)


def sweep_report(folder: Path, events: int) -> None:
    study = write_study(folder, events, sweep=True, epochs=5)
    points = int(np.prod([len(values) for values in SWEEP.values()]))
    print(f"sweep: {points} points x 3 folds, {events:,} events, 5 epochs each")

    runs = {}
    for jobs in (1, 2):
        output = folder / f"runs-jobs{jobs}"
        command = [sys.executable, "-m", "tw_pipeline", "-v", "run", str(study),
                   "--jobs", str(jobs), "--set", f"output.dir={output}"]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"twpipe run --jobs {jobs} failed:\n{done.stderr}")
        runs[jobs] = {
            "seconds": seconds,
            "loads": done.stderr.count("sample signal (signal):"),
            "shared": done.stderr.count("reusing the preparation"),
            "load_seconds": _load_seconds(done.stderr),
        }

    header = f"{'jobs':>5}{'wall s':>9}{'data loads':>12}{'load s':>8}" \
             f"{'load s/point':>14}{'shared fold preparations':>26}"
    print(header)
    print("-" * len(header))
    for jobs, run in runs.items():
        print(f"{jobs:>5}{run['seconds']:>9.1f}{run['loads']:>12}"
              f"{run['load_seconds']:>8.2f}{run['load_seconds'] / points:>14.3f}"
              f"{run['shared']:>18} of {3 * points}")
    speedup = runs[1]["seconds"] / runs[2]["seconds"]
    once = all(run["loads"] == 1 for run in runs.values())
    print(f"speed-up of --jobs 2: {speedup:.2f} (target >= {SPEEDUP_TARGET}); "
          f"data loaded once per sweep: {'yes' if once else 'no'} -> "
          f"{'met' if speedup >= SPEEDUP_TARGET and once else 'NOT met'}")


def memory_report(folder: Path, events: int) -> None:
    study = write_study(folder, events, sweep=False, epochs=2)
    warm_up = write_study(folder / "warm-up", 3000, sweep=False, epochs=2)
    command = [sys.executable, __file__, "--memory-probe", str(study), str(warm_up)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"memory probe failed:\n{done.stderr}")
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    ratio = probe["peak_growth"] / probe["loaded_bytes"]
    print(f"memory: one point, {events:,} events, 3 folds, 2 epochs each")
    print(f"loaded arrays {probe['loaded_bytes'] / 2**20:.0f} MiB, peak growth of the "
          f"run {probe['peak_growth'] / 2**20:.0f} MiB: {ratio:.2f}x (target <= "
          f"{MEMORY_TARGET:.0f}x) -> {'met' if ratio <= MEMORY_TARGET else 'NOT met'}")


def write_study(folder: Path, events: int, *, sweep: bool, epochs: int) -> Path:
    """Ntuples of two classes and a study reading them."""
    import pandas as pd

    folder.mkdir(parents=True)
    rng = np.random.default_rng(20251203)
    for index, name in enumerate(("signal", "background")):
        count = events // 2
        columns = {v: rng.normal(0.4 * (index == 0) if i < 4 else 0.0, 1.0, count)
                   for i, v in enumerate(VARIABLES)}
        frame = pd.DataFrame(columns).astype(np.float32)
        frame["weight"] = rng.normal(1.0, 0.3, count)
        frame["eventNumber"] = np.arange(index * count, (index + 1) * count)
        frame.to_hdf(folder / f"{name}.h5", key="events", format="table")

    lines = [
        "study: bench",
        "data:",
        "  samples:",
        "    signal: {class: signal, files: [signal.h5], key: events}",
        "    background: {class: background, files: [background.h5], key: events}",
        "  weight: weight",
        "  event_number: eventNumber",
        f"variables: [{', '.join(VARIABLES)}]",
        "network: {hidden_layers: 3, nodes: 32, activation: elu}",
        "optimizer: {name: adam, learning_rate: 0.001}",
        f"training: {{epochs: {epochs}, batch_size: 1024, early_stopping: null}}",
        "folds: {k: 3}",
        "report: {formats: [png], variable_plots: false}",
    ]
    if sweep:
        lines.append("sweep:")
        lines.append("  grid:")
        lines.extend(f"    {key}: {values}" for key, values in SWEEP.items())
    path = folder / "study.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _load_seconds(stderr: str) -> float:
    # The run logs "... samples loaded in N.NNs" once per data load.
    total = 0.0
    for line in stderr.splitlines():
        if "samples loaded in" in line:
            total += float(line.rsplit(" ", 1)[-1].rstrip("s"))
    return total


def _probe_memory(study_path: Path, warm_up: Path) -> dict[str, int]:
    """Run the study in this process; report the peak RSS growth it caused.

    A tiny study runs first, so that what every run needs whatever its size
    (TensorFlow's runtime and compiled kernels, matplotlib, scikit-learn) is
    in memory before the measurement starts; what remains is what the events
    cost.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tw_pipeline.data.load import load_dataset
    from tw_pipeline.run.study_runner import run_study
    from tw_pipeline.study.loading import load_study

    run_study(load_study(warm_up))
    study_file = load_study(study_path)
    dataset = load_dataset(study_file.points[0][1])
    loaded = sum(
        array.nbytes
        for array in (dataset.features, dataset.labels, dataset.weights,
                      dataset.sample_index, dataset.event_number)
        if array is not None
    )
    del dataset

    reset_peak()
    before = rss_status("VmRSS")
    run_study(study_file)
    return {"peak_growth": rss_status("VmHWM") - before, "loaded_bytes": loaded}


if __name__ == "__main__":
    main()
