"""Benchmark the memory of `twpipe apply` on a file far larger than its chunk.

Trains a tiny point on small toy ntuples (k=3, event-number folds), then
writes one large toy sample (3,000,000 events, 16 columns, about 195 MiB
loaded, by default) and one a third of its size, each as a pandas table and
as a ROOT TTree. Each is scored with ``apply_run`` in a fresh subprocess,
chunk size 100,000 events, and the growth of the peak resident memory
during the call is compared with numbers measured in the same run:

* the file's loaded size: every column of the table in its stored type
  (events x bytes per event), the memory a read of the whole file needs;
* the peak of the library's own read of the whole table (``pd.read_hdf``,
  uproot's ``tree.arrays``), in the same kind of subprocess;
* apply's own peak on the file a third of the size: memory bounded by the
  chunk does not grow with the file.

Models, TensorFlow and the readers are loaded and warmed (by scoring a small
file) before the peak is reset, so only the scoring of the measured file
counts.

Targets: apply's peak below 0.5 times the large file's loaded size, and at
most 1.25 times its peak on the file a third of the size.

Usage: python bench/bench_apply.py [--events N] [--chunk-rows R]
"""

# ruff: noqa: T201 - a benchmark prints its results

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from peak_memory import reset_peak, rss_status

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MEMORY_TARGET = 0.5
GROWTH_TARGET = 1.25

STUDY = """\
study: bench-apply
data:
  samples:
    tW: {{class: signal, files: [{data}/tW_DR.h5], key: wt_DR_nominal}}
    ttbar: {{class: background, files: [{data}/ttbar_a.h5, {data}/ttbar_d.h5], key: tt_nominal}}
  weight: weight_nominal
  event_number: eventNumber
variables: [mass_lep1jet1, mass_lep1jet2, deltaR_lep1_jet1, pT_lep1, pT_jet1, pT_jet2, met]
network: {{hidden_layers: 3, nodes: 32, activation: elu}}
training: {{epochs: 1, batch_size: 256}}
folds: {{k: 3}}
report: {{formats: [png], variable_plots: false}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--memory-probe", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.memory_probe:
        kind, run_dir, path, small = args.memory_probe
        print(
            json.dumps(
                _probe(kind, Path(run_dir), Path(path), Path(small), args.chunk_rows)
            )
        )
        return

    with tempfile.TemporaryDirectory(prefix="twpipe-bench-") as folder:
        folder = Path(folder)
        run_dir = _train(folder)
        small = _write_large(folder / "small", 5_000)[0]
        sizes = {"large": args.events, "third": args.events // 3}
        written = {name: _write_large(folder / name, n) for name, n in sizes.items()}
        print(
            f"{args.events:,} events ({args.events / args.chunk_rows:.0f} chunks of "
            f"{args.chunk_rows:,}), and a file of a third of that for comparison"
        )
        print()
        header = (
            f"{'file':<16}{'loaded MiB':>12}{'read peak':>11}{'apply peak':>12}"
            f"{'1/3 file':>10}{'apply s':>9}"
        )
        print(header)
        print("-" * len(header))
        verdicts = []
        for form in written["large"][0]:
            path = written["large"][0][form]
            loaded = written["large"][1][form]
            read = _in_subprocess("read", run_dir, path, small[form], args.chunk_rows)
            applied = _in_subprocess(
                "apply", run_dir, path, small[form], args.chunk_rows
            )
            third = _in_subprocess(
                "apply",
                run_dir,
                written["third"][0][form],
                small[form],
                args.chunk_rows,
            )
            apply_ratio = applied["peak_growth"] / loaded
            growth = applied["peak_growth"] / max(third["peak_growth"], 1)
            print(
                f"{form:<16}{loaded / 2**20:>12.0f}"
                f"{read['peak_growth'] / loaded:>10.2f}x"
                f"{apply_ratio:>11.2f}x{growth:>9.2f}x{applied['seconds']:>9.1f}"
            )
            verdicts.append(apply_ratio < MEMORY_TARGET and growth < GROWTH_TARGET)
        print()
        print(
            "read and apply peaks are relative to the file's loaded size; '1/3 file' "
            "is apply's peak on the large file over its peak on the file a third "
            f"the size. Targets: apply peak < {MEMORY_TARGET}x, 1/3 file < "
            f"{GROWTH_TARGET}x -> {'met' if all(verdicts) else 'NOT met'}"
        )


def _train(folder: Path) -> Path:
    """A tiny finished point to apply."""
    from tw_pipeline.cli.app import main as twpipe
    from tw_pipeline.toydata import write_toy_ntuples

    data = folder / "train"
    write_toy_ntuples(data, events=3000, seed=3)
    study = folder / "study.yaml"
    study.write_text(STUDY.format(data=data))
    # The run's summary table would mix into this benchmark's own output.
    with contextlib.redirect_stdout(io.StringIO()):
        code = twpipe(["-q", "run", str(study)])
    if code != 0:
        message = "training the benchmark's point failed"
        raise RuntimeError(message)
    return folder / "runs" / "bench-apply" / "default"


def _write_large(folder: Path, events: int) -> tuple[dict[str, Path], dict[str, int]]:
    """One toy sample as a pandas table and a ROOT tree; their loaded sizes."""
    import pandas as pd
    import uproot

    from tw_pipeline.toydata import write_toy_ntuples

    write_toy_ntuples(folder, events=events, seed=9)
    pandas_file = folder / "tW_DR.h5"
    frame = pd.read_hdf(pandas_file)
    root_file = folder / "tW_DR.root"
    with uproot.recreate(root_file) as handle:
        tree = handle.mktree("nominal", {c: frame[c].dtype for c in frame.columns})
        step = 200_000
        for start in range(0, len(frame), step):
            part = frame.iloc[start : start + step]
            tree.extend({c: part[c].to_numpy() for c in frame.columns})
    loaded = int(sum(frame[c].dtype.itemsize for c in frame.columns) * len(frame))
    return {"pandas table": pandas_file, "ROOT TTree": root_file}, {
        "pandas table": loaded,
        "ROOT TTree": loaded,
    }


def _in_subprocess(
    kind: str, run_dir: Path, path: Path, small: Path, chunk: int
) -> dict:
    command = [
        sys.executable,
        __file__,
        "--chunk-rows",
        str(chunk),
        "--memory-probe",
        kind,
        str(run_dir),
        str(path),
        str(small),
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def _probe(kind: str, run_dir: Path, path: Path, small: Path, chunk: int) -> dict:
    """Warm up, reset the peak, run one read or apply and report the growth."""
    import pandas as pd
    import uproot

    from tw_pipeline.apply.runner import apply_run

    out = path.parent / f"out-{kind}"
    # Warm-up: TensorFlow, the models and the writers, on a small file.
    apply_run(
        run_dir, [small], out / "warm", chunk_rows=chunk, force=True, progress=False
    )
    gc.collect()
    reset_peak()
    before = rss_status("VmRSS")
    started = time.perf_counter()
    if kind == "apply":
        apply_run(run_dir, [path], out, chunk_rows=chunk, force=True, progress=False)
    elif path.suffix == ".root":
        with uproot.open(path) as handle:
            result = handle["nominal"].arrays(library="np")
        del result
    else:
        result = pd.read_hdf(path)
        del result
    seconds = time.perf_counter() - started
    return {"peak_growth": rss_status("VmHWM") - before, "seconds": seconds}


if __name__ == "__main__":
    main()
