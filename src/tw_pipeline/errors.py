"""Exceptions that twpipe raises for problems a user can fix.

Everything the user got wrong (a study file, a data file, a command-line
argument) is raised as a :class:`BadInputError`. The command line prints such
errors without a traceback and exits with code 2. Each error carries one or
more :class:`Problem` records, so that every defect in a study file can be
reported at once instead of one per attempt.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "BadInputError",
    "InvalidData",
    "InvalidStudy",
    "Problem",
    "RunFailed",
    "did_you_mean",
]


@dataclass(frozen=True)
class Problem:
    """One defect in the user's input.

    Args:
        message: what was found and what was expected, in one sentence.
        source: where the defect is: ``file:line:column``, a file, or a
            sample and file for data problems.
        path: the key path in the study (``network.activation``) or a column
            name, in the user's terms.
        hint: a suggestion such as "did you mean 'elu'?".
        snippet: lines of the offending file with a caret under the spot.
    """

    message: str
    source: str | None = None
    path: str | None = None
    hint: str | None = None
    snippet: str | None = None

    def format(self) -> str:
        """Render the problem as the lines the user reads on stderr."""
        where = ": ".join(part for part in (self.source, self.path) if part)
        head = f"{where}: {self.message}" if where else self.message
        lines = [head]
        if self.snippet:
            lines.extend("    " + line for line in self.snippet.splitlines())
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


class BadInputError(Exception):
    """Raised when the user's input (study, data, arguments) cannot be used."""

    kind = "bad input"

    def __init__(self, problems: Problem | Sequence[Problem]) -> None:
        if isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__(self.format())

    def format(self) -> str:
        """Render all problems, numbered when there are several."""
        count = len(self.problems)
        if count == 1:
            return f"{self.kind}: {self.problems[0].format()}"
        header = f"{self.kind}: {count} problems"
        body = "\n".join(problem.format() for problem in self.problems)
        return f"{header}\n{body}"


class InvalidStudy(BadInputError):
    """Raised when a study file is not valid YAML or breaks the schema."""

    kind = "invalid study"


class InvalidData(BadInputError):
    """Raised when an input file lacks a key or column, or holds bad values."""

    kind = "invalid data"


class RunFailed(Exception):
    """Raised when one or more points of a study failed to run."""


def did_you_mean(found: str, choices: Iterable[str]) -> str | None:
    """Return a "did you mean" hint for a misspelt name, or None.

    Args:
        found: the name the user wrote.
        choices: the names that would have been valid.

    Returns:
        A hint naming the closest valid choices, or None if none is close.
    """
    candidates = [str(choice) for choice in choices]
    # Compare without case: 'SGD' should find 'sgd', 'eventnumber' 'eventNumber'.
    lowered = {candidate.lower(): candidate for candidate in candidates}
    matches = difflib.get_close_matches(str(found).lower(), list(lowered), n=3, cutoff=0.6)
    close = [lowered[match] for match in matches]
    if not close:
        return None
    quoted = " or ".join(f"'{name}'" for name in close)
    return f"did you mean {quoted}?"
