"""Expand a study's sweep into named points.

A sweep is a grid (every combination of the listed values) times any number
of zip groups (keys whose values vary together). Each point is a set of
overrides, key path -> value, applied to the study without its sweep.

Point names are built from the swept values alone, with the axes sorted by
key path, so the same study always gives the same names whatever the order
of its keys, and a name tells a person what the point is
(``activation-elu_nodes-30``).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tw_pipeline.study.models import Sweep

__all__ = ["Point", "apply_overrides", "expand_sweep", "format_value"]

MAX_NAME_LENGTH = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9.+-]+")


@dataclass(frozen=True)
class Point:
    """One sweep point.

    Attributes:
        name: short, readable, unique and stable folder name.
        overrides: key path -> value for this point, sorted by key path.
    """

    name: str
    overrides: dict[str, Any]


def expand_sweep(sweep: Sweep | None) -> list[Point]:
    """Return the points of a sweep, or one point named "default" without one.

    Args:
        sweep: the study's sweep section.

    Returns:
        The points in a deterministic order: the grid axes sorted by key
        path vary slowest-first, then the zip groups.
    """
    if sweep is None or not (sweep.grid or sweep.zip):
        return [Point(name="default", overrides={})]

    # Every axis is a list of settings; a setting is a dict of key -> value.
    axes: list[list[dict[str, Any]]] = []
    for key in sorted(sweep.grid):
        axes.append([{key: value} for value in sweep.grid[key]])
    for group in sorted(sweep.zip, key=lambda g: sorted(g)):
        keys = sorted(group)
        length = len(group[keys[0]])
        axes.append([{key: group[key][i] for key in keys} for i in range(length)])

    short_names = _short_names(sweep.axes())
    option_numbers = _option_numbers(sweep)
    points = []
    for combination in itertools.product(*axes):
        overrides: dict[str, Any] = {}
        for setting in combination:
            overrides.update(setting)
        overrides = dict(sorted(overrides.items()))
        name = _point_name(overrides, short_names, option_numbers)
        points.append(Point(name=name, overrides=overrides))
    return _make_unique(points)


def apply_overrides(data: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict:
    """Return a deep copy of ``data`` with each dotted key path set to its value.

    Missing intermediate mappings are created, so a sweep can set a key that
    the study leaves at its default (``optimizer.momentum``).
    """
    result = copy.deepcopy(dict(data))
    for path, value in overrides.items():
        parts = path.split(".")
        target = result
        for part in parts[:-1]:
            child = target.get(part)
            if not isinstance(child, dict):
                child = {}
                target[part] = child
            target = child
        target[parts[-1]] = copy.deepcopy(value)
    return result


def format_value(value: Any) -> str:
    """Render a swept value the way a person would write it in a table."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _short_names(keys: list[str]) -> dict[str, str]:
    # Use the last segment of each key path, and lengthen only the ones that
    # would otherwise collide (optimizer.learning_rate vs adversary.learning_rate).
    names = {key: key.split(".")[-1] for key in keys}
    longest = max((len(key.split(".")) for key in keys), default=1)
    for depth in range(2, longest + 1):
        counts = Counter(names.values())
        clashing = [key for key in keys if counts[names[key]] > 1]
        if not clashing:
            break
        for key in clashing:
            names[key] = ".".join(key.split(".")[-depth:])
    return names


def _option_numbers(sweep: Sweep) -> dict[str, dict[str, int]]:
    # Lists and mappings as values (for instance a variable set) do not fit in
    # a folder name; they are named by their position in the sweep instead.
    numbers: dict[str, dict[str, int]] = {}
    columns = dict(sweep.grid)
    for group in sweep.zip:
        columns.update(group)
    for key, values in columns.items():
        for index, value in enumerate(values):
            if isinstance(value, list | dict):
                numbers.setdefault(key, {})[_canonical(value)] = index + 1
    return numbers


def _point_name(
    overrides: dict[str, Any],
    short_names: dict[str, str],
    option_numbers: dict[str, dict[str, int]],
) -> str:
    tokens = []
    for key, value in overrides.items():
        if isinstance(value, list | dict):
            shown = f"set{option_numbers[key][_canonical(value)]}"
        else:
            shown = _UNSAFE.sub("_", format_value(value)).strip("_") or "empty"
        tokens.append(f"{short_names[key]}-{shown}")
    name = "_".join(tokens)
    if len(name) > MAX_NAME_LENGTH:
        name = name[: MAX_NAME_LENGTH - 9].rstrip("_-") + "-" + _digest(overrides)
    return name


def _make_unique(points: list[Point]) -> list[Point]:
    # Two values can collapse to one name once unsafe characters are replaced
    # ("a b" and "a_b"); a digest of the values keeps such points apart.
    counts: dict[str, int] = {}
    for point in points:
        counts[point.name] = counts.get(point.name, 0) + 1
    return [
        Point(name=f"{p.name}-{_digest(p.overrides)}", overrides=p.overrides)
        if counts[p.name] > 1
        else p
        for p in points
    ]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _digest(overrides: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(overrides).encode()).hexdigest()[:8]
