"""Run sweep points in parallel processes on one machine.

Each worker is a fresh process (spawned, not forked: TensorFlow's thread
pools do not survive a fork) that trains one point at a time with its share
of the CPU threads. The events are loaded once by the parent and mapped into
every worker from a dataset store on disk.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path

from tw_pipeline.data.dataset import Dataset
from tw_pipeline.run.point_runner import PointTask, execute_point
from tw_pipeline.training.fold_inputs import FoldInputCache

__all__ = ["remove_store", "run_parallel", "threads_per_job"]

log = logging.getLogger(__name__)

# Environment variables read by the BLAS and OpenMP libraries under numpy and
# TensorFlow when a process starts.
_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)


def threads_per_job(jobs: int) -> int:
    """Divide the machine's CPU cores between ``jobs`` workers (at least one each)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // jobs)


def run_parallel(
    tasks: list[tuple[PointTask, Path, str]], jobs: int
) -> dict[str, str | None]:
    """Run points in ``jobs`` processes.

    Args:
        tasks: each point's task, the folder of its stored dataset, and the
            data fingerprint.
        jobs: number of worker processes.

    Returns:
        point name -> None if it finished, else its error.
    """
    threads = threads_per_job(jobs)
    level = logging.getLogger("tw_pipeline").getEffectiveLevel()
    log.info("running %d points in %d processes, %d thread(s) each",
             len(tasks), jobs, threads)

    outcomes: dict[str, str | None] = {}
    with _thread_limits(threads), ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=get_context("spawn"),
        initializer=_start_worker,
        initargs=(level, threads),
    ) as pool:
        futures = {
            pool.submit(_run_task, task, str(folder), fingerprint): task
            for task, folder, fingerprint in tasks
        }
        for future in as_completed(futures):
            task = futures[future]
            try:
                outcomes[task.study.point_name] = future.result()
            except Exception as error:  # noqa: BLE001 - a worker died (killed, out of memory)
                log.error("%s: worker process failed: %s", task.label, error)
                outcomes[task.study.point_name] = f"worker process failed: {error}"
    return outcomes


def remove_store(folder: Path) -> None:
    """Delete a dataset store once no worker needs it."""
    shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _thread_limits(threads: int) -> Iterator[None]:
    # Workers inherit the environment at start; set the limits only around
    # the pool so the parent's own settings come back afterwards.
    saved = {name: os.environ.get(name) for name in _THREAD_VARIABLES}
    os.environ.update({name: str(threads) for name in _THREAD_VARIABLES})
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _start_worker(level: int, threads: int) -> None:
    from tw_pipeline.cli.logs import configure_logging

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    configure_logging(quiet=level > logging.INFO, verbose=level < logging.INFO)

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)


# Per worker process: the dataset of each store it has opened, and the folds
# prepared on it, so a worker running several points prepares each fold once.
_opened: dict[str, tuple[Dataset, FoldInputCache]] = {}


def _run_task(task: PointTask, folder: str, fingerprint: str) -> str | None:
    from tw_pipeline.run.datastore import open_dataset

    if folder not in _opened:
        _opened[folder] = (open_dataset(Path(folder)), FoldInputCache())
    dataset, cache = _opened[folder]
    return execute_point(task, dataset, fingerprint, cache)
