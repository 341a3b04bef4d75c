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
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path

from tw_pipeline.data.dataset import Dataset
from tw_pipeline.run.layout import point_layout
from tw_pipeline.run.point_runner import PointTask, execute_point, record_failure
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

# Pool breakdowns a point may see before it is given up as failed.
_MAX_BREAKDOWNS = 3


def threads_per_job(jobs: int) -> int:
    """Divide the machine's CPU cores between ``jobs`` workers (at least one each)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // jobs)


def run_parallel(
    tasks: list[tuple[PointTask, Path, str]], jobs: int
) -> dict[str, str | None]:
    """Run points in ``jobs`` processes.

    A point that fails inside its worker records its error itself. A worker
    that dies (killed, out of memory) takes the whole process pool with it:
    the points that were running then are recorded as failed here, and the
    points that had not started yet run in a fresh pool.

    Args:
        tasks: each point's task, the folder of its stored dataset, and the
            data fingerprint.
        jobs: number of worker processes.

    Returns:
        point name -> None if it finished, else its error.
    """
    threads = threads_per_job(jobs)
    log.info("running %d points in %d processes, %d thread(s) each",
             len(tasks), jobs, threads)

    outcomes: dict[str, str | None] = {}
    breakdowns: dict[str, int] = {}
    remaining = list(tasks)
    while remaining:
        started = time.time()
        broken = _run_pool(remaining, jobs, threads, outcomes)
        remaining = []
        for work in broken:
            task = work[0]
            name = task.study.point_name
            breakdowns[name] = breakdowns.get(name, 0) + 1
            # A point that dies before it writes anything would otherwise
            # be restarted for ever.
            if _started_since(task, started) or breakdowns[name] >= _MAX_BREAKDOWNS:
                error = "the worker process running this point died (killed, or out of memory?)"
                path = record_failure(task.study, RuntimeError(error), error)
                log.error("%s failed: %s (see %s)", task.label, error, path)
                outcomes[name] = f"{error} (see {path})"
            else:
                remaining.append(work)
        if remaining:
            log.warning("restarting the worker processes for %d point(s) not yet started",
                        len(remaining))
    return outcomes


def _run_pool(
    tasks: list[tuple[PointTask, Path, str]],
    jobs: int,
    threads: int,
    outcomes: dict[str, str | None],
) -> list[tuple[PointTask, Path, str]]:
    """Run ``tasks`` in one process pool; return those its breakdown stopped."""
    level = logging.getLogger("tw_pipeline").getEffectiveLevel()
    broken = []
    with _thread_limits(threads), ProcessPoolExecutor(
        max_workers=min(jobs, len(tasks)),
        mp_context=get_context("spawn"),
        initializer=_start_worker,
        initargs=(level, threads),
    ) as pool:
        futures = {
            pool.submit(_run_task, task, str(folder), fingerprint): (task, folder, fingerprint)
            for task, folder, fingerprint in tasks
        }
        for future in as_completed(futures):
            work = futures[future]
            try:
                outcomes[work[0].study.point_name] = future.result()
            except BrokenProcessPool:
                broken.append(work)
    return broken


def _started_since(task: PointTask, since: float) -> bool:
    # A point's provenance is written when it starts; an older one (or none)
    # belongs to an earlier run, so this point had not started in the pool.
    provenance = point_layout(task.study).provenance
    try:
        return provenance.stat().st_mtime >= since - 1
    except OSError:
        return False


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
