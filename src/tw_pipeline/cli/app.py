"""The `twpipe` command.

Each command is thin: read the inputs, call one library function, print the
result. Results go to stdout, messages and progress to stderr. Problems with
the user's input exit with code 2 and no traceback (unless --debug); a run
that failed exits with code 1.

TensorFlow is imported only by the commands that train or apply models, so
`twpipe --help`, `validate`, `expand` and `schema` answer at once.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from tw_pipeline import __version__
from tw_pipeline.cli.logs import configure_logging
from tw_pipeline.errors import BadInputError, RunFailed

__all__ = ["app", "main"]

log = logging.getLogger("tw_pipeline.cli")

app = typer.Typer(
    name="twpipe",
    help="Train and compare signal-versus-background neural networks from one "
    "YAML study file.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

StudyArg = Annotated[
    Path, typer.Argument(help="The study file (YAML).", metavar="STUDY", show_default=False)
]
SetOption = Annotated[
    Optional[list[str]],  # noqa: UP045 - typer needs Optional on Python 3.10
    typer.Option(
        "--set",
        help="Override a key, e.g. --set network.nodes=50 (repeatable).",
        show_default=False,
    ),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"twpipe {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Show warnings and errors only.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show debug messages.")
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show Python tracebacks for every error."),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    """Train and compare signal-versus-background neural networks."""
    configure_logging(quiet=quiet, verbose=verbose or debug)


@app.command()
def validate(
    study: StudyArg,
    data: Annotated[
        bool,
        typer.Option(
            "--data", help="Also open the data files and check keys, columns, selections."
        ),
    ] = False,
    overrides: SetOption = None,
) -> None:
    """Check a study file and print what it would run."""
    from tw_pipeline.study.loading import load_study
    from tw_pipeline.study.summary import describe_study

    study_file = load_study(study, overrides)
    if data:
        from tw_pipeline.run.datacache import load_for_points

        load_for_points(study_file.points)
    typer.echo(describe_study(study_file))


@app.command()
def expand(
    study: StudyArg,
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Folder for the point files.", show_default=False),
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite files whose content differs.")
    ] = False,
    overrides: SetOption = None,
) -> None:
    """Write one complete study file per sweep point, plus an index file."""
    from tw_pipeline.study.expand import expand_to_folder
    from tw_pipeline.study.loading import load_study

    study_file = load_study(study, overrides)
    result = expand_to_folder(study_file, output, force=force)
    for path in result.files:
        typer.echo(str(path))
    log.info("index: %s", result.index)


@app.command()
def schema(
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="json: JSON Schema for editors (default); markdown: the "
            "study-file reference as in docs/study-file.md.",
            metavar="json|markdown",
        ),
    ] = "json",
) -> None:
    """Print the JSON Schema of the study file (for editor completion)."""
    if output_format == "markdown":
        from tw_pipeline.study.reference import study_reference

        typer.echo(study_reference(), nl=False)
        return
    if output_format != "json":
        from tw_pipeline.errors import InvalidStudy, Problem

        problem = Problem(
            source="--format",
            message=f"found {output_format!r}; expected 'json' or 'markdown'",
        )
        raise InvalidStudy(problem)

    from tw_pipeline.study.schema import study_schema

    typer.echo(json.dumps(study_schema(), indent=2))


@app.command()
def run(
    study: StudyArg,
    point: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--point", help="Run only the sweep point with this name."),
    ] = None,
    jobs: Annotated[
        int,
        typer.Option("--jobs", "-j", min=1, help="Points to run in parallel processes."),
    ] = 1,
    force: Annotated[
        bool,
        typer.Option("--force", help="Rerun points that have already finished."),
    ] = False,
    overrides: SetOption = None,
) -> None:
    """Run the study: load, preprocess, train every fold, evaluate, report."""
    from tw_pipeline.run.study_runner import run_study
    from tw_pipeline.study.loading import load_study

    study_file = load_study(study, overrides)
    result = run_study(study_file, only=point, jobs=jobs, force=force)
    typer.echo(result.table)
    log.info("results: %s", result.study_dir)
    if result.failed:
        for name in result.failed:
            log.error("point %s failed: %s", name, result.errors[name])
        names = ", ".join(result.failed)
        raise RunFailed(
            f"{len(result.failed)} of {len(result.ran) + len(result.failed)} point(s) "
            f"failed: {names}; rerun the same command to retry them"
        )


@app.command()
def report(
    runs_dir: Annotated[
        Path,
        typer.Argument(
            help="A study's run folder (runs/<study>) holding finished points.",
            metavar="RUNS_DIR",
            show_default=False,
        ),
    ],
) -> None:
    """Rebuild the study summary (table and plots) from finished points."""
    from tw_pipeline.report.summary import write_summary

    if not runs_dir.is_dir():
        from tw_pipeline.errors import InvalidData, Problem

        raise InvalidData(Problem(source=str(runs_dir), message="no such folder"))
    result = write_summary(runs_dir)
    typer.echo(result.markdown)


@app.command()
def inspect(
    file: Annotated[
        Path, typer.Argument(help="An HDF5 or ROOT file.", metavar="FILE", show_default=False)
    ],
    key: Annotated[
        Optional[str],  # noqa: UP045
        typer.Argument(
            help="Show only this key or tree.", metavar="[KEY]", show_default=False
        ),
    ] = None,
) -> None:
    """List the keys or trees of a data file with their columns and row counts."""
    from tw_pipeline.data.inspect import describe_file, format_description

    typer.echo(format_description(describe_file(file, key)))


@app.command("toy-data")
def toy_data(
    output: Annotated[
        Path,
        typer.Argument(
            help="Folder for the generated files.", metavar="DIR", show_default=False
        ),
    ],
    events: Annotated[
        int, typer.Option("--events", min=100, help="Events per sample.")
    ] = 20000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 7,
) -> None:
    """Generate toy tW, ttbar and systematic tW_DS ntuples (HDF5) for trying twpipe out."""
    from tw_pipeline.toydata import write_toy_ntuples

    for path in write_toy_ntuples(
        output, events=events, seed=seed, systematic=True
    ).values():
        typer.echo(str(path))


@app.command()
def submit(
    study: StudyArg,
    to: Annotated[
        str,
        typer.Option("--to", help="Batch system: htcondor or slurm.", show_default=False),
    ],
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Write the batch files but do not submit them."),
    ] = False,
    retry_failed: Annotated[
        bool,
        typer.Option("--retry-failed", help="Submit only the points that failed."),
    ] = False,
    cpus: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--cpus", help="CPU cores per job (batch.cpus).", show_default=False),
    ] = None,
    memory: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--memory", help="Memory per job, e.g. 4GB (batch.memory).",
                     show_default=False),
    ] = None,
    disk: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--disk", help="Scratch disk per job, e.g. 10GB (batch.disk).",
                     show_default=False),
    ] = None,
    time: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--time", help="Wall time per job, HH:MM:SS (batch.time).",
                     show_default=False),
    ] = None,
    flavour: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--flavour", help="lxplus job flavour, e.g. longlunch "
                     "(batch.job_flavour).", show_default=False),
    ] = None,
    partition: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--partition", help="Slurm partition (batch.partition).",
                     show_default=False),
    ] = None,
    max_running: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--max-running", help="Most jobs running at once "
                     "(batch.max_running).", show_default=False),
    ] = None,
    overrides: SetOption = None,
) -> None:
    """Write batch jobs for the unfinished points and submit them (HTCondor or Slurm)."""
    from tw_pipeline.batch.submit import BACKENDS, submit_study
    from tw_pipeline.errors import Problem
    from tw_pipeline.study.loading import load_study

    if to not in BACKENDS:
        from tw_pipeline.errors import did_you_mean

        hint = did_you_mean(to, BACKENDS) or "use --to htcondor or --to slurm"
        raise BadInputError(Problem(source="--to", message=f"found '{to}'; expected "
                                    "htcondor or slurm", hint=hint))
    options = {"cpus": cpus, "memory": memory, "disk": disk, "time": time, "job_flavour": flavour,
               "partition": partition, "max_running": max_running}
    # Quoted, so that the text reaches the study as typed (YAML would read
    # --time 2:00:00 as a number of seconds).
    batch_overrides = [
        f"batch.{key}={json.dumps(value) if isinstance(value, str) else value}"
        for key, value in options.items() if value is not None
    ]
    study_file = load_study(study, [*(overrides or []), *batch_overrides])
    result = submit_study(study_file, to, retry_failed=retry_failed, dry_run=dry_run)
    if result.submission is None:
        return
    typer.echo(str(result.batch_file))
    if dry_run:
        command = "condor_submit sweep.sub" if to == "htcondor" else "sbatch sweep.sbatch"
        log.info("dry run: nothing submitted; to submit these jobs yourself: cd %s && %s",
                 result.submission.folder, command)
    log.info("follow the points with: twpipe status %s", result.submission.folder.parents[1])


@app.command()
def status(
    runs_dir: Annotated[
        Path,
        typer.Argument(
            help="A study's run folder (runs/<study>).", metavar="RUNS_DIR",
            show_default=False,
        ),
    ],
) -> None:
    """List every point as finished, failed, running or not started."""
    from tw_pipeline.batch.status import STATES, format_status, study_status

    statuses = study_status(runs_dir)
    typer.echo(format_status(statuses))
    counts = {state: sum(s.state == state for s in statuses) for state in STATES}
    log.info("%s", ", ".join(f"{n} {state}" for state, n in counts.items()))


RunDirArg = Annotated[
    Path,
    typer.Argument(
        help="A finished point's run folder, e.g. runs/<study>/<point>.",
        metavar="RUN_DIR",
        show_default=False,
    ),
]


@app.command("apply")
def apply_(
    run_dir: RunDirArg,
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="HDF5 or ROOT files to score.", metavar="INPUT...", show_default=False
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o",
            help="Folder for the scored files (same names as the inputs).",
            show_default=False,
        ),
    ],
    score_name: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--score-name",
            help="Name of the score column or branch (default: <study>_score).",
            show_default=False,
        ),
    ] = None,
    keys: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--key",
            help="Table or tree to score, e.g. --key nominal (repeatable; default: "
            "every one that holds the run's variables).",
            show_default=False,
        ),
    ] = None,
    chunk_rows: Annotated[
        int,
        typer.Option("--chunk-rows", min=1, help="Events read and scored at a time."),
    ] = 100_000,
    force: Annotated[
        bool, typer.Option("--force", help="Replace output files that exist already.")
    ] = False,
    no_progress: Annotated[
        bool, typer.Option("--no-progress", help="Never show a progress bar.")
    ] = False,
) -> None:
    """Score files with a point's fold models; write copies with the score added.

    Wraps tw_pipeline.apply.runner.apply_run.
    """
    from tw_pipeline.apply.runner import apply_run

    results = apply_run(
        run_dir,
        inputs,
        output,
        score_name=score_name,
        keys=keys or (),
        chunk_rows=chunk_rows,
        force=force,
        progress=False if no_progress else None,
    )
    for result in results:
        typer.echo(str(result.target))


@app.command()
def export(
    run_dir: RunDirArg,
    format: Annotated[  # noqa: A002 - the option's own name
        str,
        typer.Option("--format", help="Export format; 'onnx' is the one there is."),
    ] = "onnx",
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--output", "-o",
            help="Folder for the exported files (default: RUN_DIR/export/<format>).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Export the fold models for C++ inference, with a metadata file.

    Needs the optional extra: pip install 'tw-pipeline[onnx]'.
    Wraps tw_pipeline.apply.onnx_export.export_run.
    """
    from tw_pipeline.apply.onnx_export import export_run

    result = export_run(run_dir, output, format=format)
    for path in (*result.models, result.metadata):
        typer.echo(str(path))


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    # TensorFlow's C++ start-up chatter would drown the run's own messages.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        # In standalone mode typer reports usage errors itself (exit code 2)
        # and ends with SystemExit; the project's own errors pass through.
        app(args=args, prog_name="twpipe")
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else 0 if done.code is None else 1
    except BadInputError as error:
        if debug:
            raise
        sys.stderr.write(error.format() + "\n")
        return 2
    except RunFailed as error:
        if debug:
            raise
        sys.stderr.write(f"run failed: {error}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
