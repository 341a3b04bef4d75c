"""The command-line reference, rendered as Markdown from the commands' help.

docs/cli.md is this module's output: the help text of `twpipe` and of every
command, exactly as `twpipe COMMAND --help` prints it, so the page cannot say
something the program does not. A test fails when the two drift apart;
``python -m tw_pipeline.cli.reference > docs/cli.md`` (or ``make docs``)
brings them back.
"""

from __future__ import annotations

import sys

from typer.testing import CliRunner

from tw_pipeline.cli.app import app

__all__ = ["cli_reference", "command_names"]

# A fixed width, so that the page does not depend on the terminal it was
# generated in.
_WIDTH = 80

_INTRO = """\
# Command-line reference

Every command of `twpipe` with its arguments and options, as
`twpipe COMMAND --help` prints them. This page is generated from the
commands themselves (`make docs`); a test fails when it is out of date.

Options of `twpipe` itself (`-q`, `-v`, `--debug`) come before the command:
`twpipe -q run study.yaml`, not `twpipe run study.yaml -q`. Results go to
stdout, messages and progress to stderr. Exit codes: 0 success, 1 a point
failed, 2 bad input (study, data or arguments), with a message and without a
Python traceback unless `--debug` is given.
"""


def command_names() -> list[str]:
    """Return the names of the commands, in the order `twpipe --help` lists them."""
    names = []
    for command in app.registered_commands:
        # typer names a command after its function unless given a name.
        name = command.name or command.callback.__name__.lower().replace("_", "-")
        names.append(name)
    return names


def cli_reference() -> str:
    """Return the Markdown reference of `twpipe` and all its commands."""
    parts = [_INTRO, "## `twpipe`", "", _fenced(_help([]))]
    for name in command_names():
        parts += [f"## `twpipe {name}`", "", _fenced(_help([name]))]
    return "\n".join(parts)


def _help(args: list[str]) -> str:
    result = CliRunner().invoke(
        app, [*args, "--help"], prog_name="twpipe", terminal_width=_WIDTH
    )
    if result.exit_code != 0:
        msg = f"`twpipe {' '.join(args)} --help` exited with {result.exit_code}"
        raise RuntimeError(msg)
    # Trailing spaces would make the page differ from an editor's copy of it.
    lines = [line.rstrip() for line in result.output.strip("\n").splitlines()]
    return "\n".join(lines)


def _fenced(text: str) -> str:
    return f"```text\n{text}\n```\n"


if __name__ == "__main__":
    sys.stdout.write(cli_reference())
