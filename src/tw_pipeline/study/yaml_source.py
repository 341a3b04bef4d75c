"""Read YAML and remember where every key and value sits in the file.

PyYAML's ``safe_load`` forgets positions, so errors found later by the
schema could only name a key path. Here the document is composed into
nodes first and built into plain Python objects by hand, keeping a map from
each key path to its line and column. Duplicate keys, which PyYAML accepts
silently (the last one wins), are reported as errors: in a study file a
repeated key is always a mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tw_pipeline.errors import InvalidStudy, Problem

__all__ = ["KeyPath", "Position", "SourceMap", "YamlDocument", "parse_yaml"]

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    """A 1-based line and column in a file."""

    line: int
    column: int


@dataclass
class SourceMap:
    """Positions of the keys and values of one YAML document.

    Attributes:
        filename: the file name shown in messages.
        keys: key path -> position of the key itself (``activation:``).
        values: key path -> position of the value.
        origins: key path -> where a value came from when it was not written
            in the file at that path (a ``--set`` option, a sweep axis).
    """

    filename: str
    keys: dict[KeyPath, Position] = field(default_factory=dict)
    values: dict[KeyPath, Position] = field(default_factory=dict)
    origins: dict[KeyPath, str] = field(default_factory=dict)

    def locate(self, path: KeyPath, *, prefer_key: bool = False) -> str:
        """Return ``file:line:column`` for the deepest known part of ``path``."""
        for depth in range(len(path), -1, -1):
            prefix = tuple(path[:depth])
            if prefix in self.origins:
                return self.origins[prefix]
            order = (self.keys, self.values) if prefer_key else (self.values, self.keys)
            for table in order:
                if prefix in table:
                    position = table[prefix]
                    return f"{self.filename}:{position.line}:{position.column}"
        return self.filename


@dataclass
class YamlDocument:
    """A parsed YAML document: plain Python data plus where it came from."""

    data: Any
    source: SourceMap


def parse_yaml(text: str, filename: str | Path) -> YamlDocument:
    """Parse one YAML document, keeping positions and refusing duplicate keys.

    Args:
        text: the YAML text.
        filename: name used in messages.

    Returns:
        The document's data and source map.

    Raises:
        InvalidStudy: on a syntax error (with line, column and a caret) or on
            duplicate keys (all of them, each with its line).
    """
    source = SourceMap(filename=str(filename))
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        raise InvalidStudy(_syntax_problem(error, source.filename)) from None

    if root is None:
        return YamlDocument(data=None, source=source)

    builder = _Builder(source)
    data = builder.build(root, ())
    if builder.duplicates:
        raise InvalidStudy(builder.duplicates)
    return YamlDocument(data=data, source=source)


class _Builder:
    """Turn composed YAML nodes into Python objects, recording positions."""

    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.duplicates: list[Problem] = []
        # The standard constructor knows how to turn scalar nodes into int,
        # float, bool, None or str following the YAML 1.1 rules.
        self._scalars = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self.source.values[path] = _position(node.start_mark)

        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalars.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        first_seen: dict[Any, Position] = {}
        for key_node, value_node in node.value:
            key = self._scalars.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) and key is not None:
                # Complex keys have no place in a study file; show them as text.
                key = str(key)
            key_position = _position(key_node.start_mark)

            if key in first_seen:
                earlier = first_seen[key]
                self.duplicates.append(
                    Problem(
                        source=f"{self.source.filename}:{key_position.line}:"
                        f"{key_position.column}",
                        path=_dotted((*path, str(key))),
                        message=f"key '{key}' appears twice (first on line "
                        f"{earlier.line}); YAML would silently keep only the last",
                        hint="remove or rename one of them",
                    )
                )
                continue

            first_seen[key] = key_position
            child_path = (*path, key if isinstance(key, str) else str(key))
            self.source.keys[child_path] = key_position
            result[key] = self.build(value_node, child_path)
        return result


def _position(mark: yaml.Mark) -> Position:
    return Position(line=mark.line + 1, column=mark.column + 1)


def _dotted(path: KeyPath) -> str:
    return ".".join(str(part) for part in path)


def _syntax_problem(error: yaml.MarkedYAMLError, filename: str) -> Problem:
    mark = error.problem_mark or error.context_mark
    where = filename
    snippet = None
    if mark is not None:
        where = f"{filename}:{mark.line + 1}:{mark.column + 1}"
        snippet = mark.get_snippet(indent=0, max_length=100)
    message = "YAML syntax error: " + " ".join(
        part for part in (error.context, error.problem) if part
    )
    if "'\\t'" in message:
        hint = "YAML does not allow tabs for indentation; use spaces"
    else:
        hint = (
            "check the indentation and that every 'key: value' has a space "
            "after the colon"
        )
    return Problem(source=where, message=message, snippet=snippet, hint=hint)
