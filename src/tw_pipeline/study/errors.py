"""Translate pydantic's validation errors into problems a physicist can act on.

Pydantic reports a location such as ``('network', 'nodes', 'int')`` and a
message such as "Input should be a valid integer". Here the location becomes
the key path as written in the study (``network.nodes``) with its file, line
and column; the message says what was found and what was expected; and
misspelt keys and choices get a "did you mean".
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from tw_pipeline.errors import Problem, did_you_mean
from tw_pipeline.study.yaml_source import KeyPath, SourceMap

__all__ = ["fields_at", "problems_from_validation", "show_value"]


def problems_from_validation(
    error: ValidationError,
    model: type[BaseModel],
    source: SourceMap,
    *,
    context: str | None = None,
) -> list[Problem]:
    """Turn every error of a pydantic ValidationError into a Problem.

    Args:
        error: the exception pydantic raised.
        model: the model that was validated (for "did you mean" on keys).
        source: positions of the keys and values in the study file.
        context: prefix for each message, e.g. the sweep point at fault.

    Returns:
        One problem per distinct key path, in file order.
    """
    grouped: dict[KeyPath, list[dict[str, Any]]] = {}
    for item in error.errors(include_url=False):
        path = _clean_path(model, item["loc"])
        grouped.setdefault(path, []).append(item)

    problems = []
    for path, items in grouped.items():
        problems.append(_problem(path, items, model, source, context))
    return sorted(problems, key=lambda p: _sort_key(p.source))


def fields_at(model: type[BaseModel], path: KeyPath) -> list[str] | None:
    """Return the keys allowed in the mapping at ``path``, or None if free-form."""
    annotation: Any = model
    for part in path:
        annotation = _step(annotation, part)
        if annotation is None:
            return None
    target = _model_in(annotation)
    if target is None:
        return None
    return [info.alias or name for name, info in target.model_fields.items()]


def show_value(value: Any, limit: int = 60) -> str:
    """Render a found value for a message: quoted text, short containers."""
    if isinstance(value, str):
        text = repr(value)
    elif isinstance(value, dict):
        text = "a mapping with keys " + ", ".join(str(k) for k in value) if value else "{}"
    elif value is None:
        text = "nothing (null)"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _problem(
    path: KeyPath,
    items: list[dict[str, Any]],
    model: type[BaseModel],
    source: SourceMap,
    context: str | None,
) -> Problem:
    first = items[0]
    kind = first["type"]
    dotted = ".".join(str(p) for p in path) or "(top level)"
    hint = None

    if kind == "extra_forbidden":
        allowed = fields_at(model, path[:-1]) or []
        key = str(path[-1])
        message = f"unknown key '{key}'"
        suggestion = did_you_mean(key, allowed)
        hint = suggestion or "allowed here: " + ", ".join(allowed)
        where = source.locate(path, prefer_key=True)
    elif kind == "missing":
        message = "required key is missing"
        parent = ".".join(map(str, path[:-1]))
        hint = f"add '{path[-1]}:' " + (f"under '{parent}'" if parent else "at the top level")
        where = source.locate(path[:-1], prefer_key=True)
    else:
        expectations = _unique(_expected(item) for item in items)
        found = show_value(first["input"])
        message = f"found {found}; expected " + " or ".join(expectations)
        choices = _choices(items)
        if choices and isinstance(first["input"], str):
            hint = did_you_mean(first["input"], choices)
        if kind == "value_error":
            message = _expected(first)
        where = source.locate(path)

    if context:
        message = f"{context}: {message}"
    return Problem(source=where, path=dotted, message=message, hint=hint)


def _expected(item: dict[str, Any]) -> str:
    kind = item["type"]
    ctx = item.get("ctx") or {}
    simple = {
        "int_parsing": "a whole number",
        "int_type": "a whole number",
        "int_from_float": "a whole number",
        "float_parsing": "a number",
        "float_type": "a number",
        "bool_parsing": "true or false",
        "bool_type": "true or false",
        "string_type": "text",
        "list_type": "a list",
        "dict_type": "a mapping of 'key: value' entries",
        "model_type": "a mapping of 'key: value' entries",
        "model_attributes_type": "a mapping of 'key: value' entries",
        "path_type": "a file path",
        "finite_number": "a finite number",
    }
    if kind in simple:
        return simple[kind]
    if kind == "greater_than_equal":
        return f"a value >= {ctx['ge']}"
    if kind == "greater_than":
        return f"a value > {ctx['gt']}"
    if kind == "less_than":
        return f"a value < {ctx['lt']}"
    if kind == "less_than_equal":
        return f"a value <= {ctx['le']}"
    if kind == "too_short":
        return f"at least {ctx['min_length']} entr{'y' if ctx['min_length'] == 1 else 'ies'}"
    if kind == "too_long":
        return f"at most {ctx['max_length']} entries"
    if kind == "string_too_long":
        return f"at most {ctx['max_length']} characters"
    if kind == "string_pattern_mismatch":
        return "a name of letters, digits and _ . + - (no spaces or slashes)"
    if kind == "literal_error":
        return "one of: " + ctx["expected"].replace(" or ", ", ")
    if kind == "value_error":
        return str(ctx.get("error", item["msg"]))
    message = item["msg"]
    return message[0].lower() + message[1:]


def _choices(items: list[dict[str, Any]]) -> list[str]:
    choices: list[str] = []
    for item in items:
        if item["type"] == "literal_error":
            choices.extend(re.findall(r"'([^']*)'", item["ctx"]["expected"]))
    return choices


def _clean_path(model: type[BaseModel], loc: tuple[Any, ...]) -> KeyPath:
    # Pydantic adds the tag of a union member to the location
    # (``nodes.int``, ``nodes.list[int]``); walk the model to drop those.
    path: list[str | int] = []
    annotation: Any = model
    for part in loc:
        if annotation is not None and _is_union(annotation) and not _model_in(annotation):
            if isinstance(part, str) and not _is_key_of(annotation, part):
                annotation = _union_member(annotation, part)
                continue
        path.append(part)
        annotation = _step(annotation, part) if annotation is not None else None
    return tuple(path)


def _step(annotation: Any, part: str | int) -> Any:
    annotation = _strip(annotation)
    model = _model_in(annotation)
    if model is not None:
        for name, info in model.model_fields.items():
            if part in (name, info.alias):
                return info.annotation
        return None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is dict and len(args) == 2 and isinstance(part, str):
        return args[1]
    if origin is list and args and isinstance(part, int):
        return args[0]
    if _is_union(annotation):
        for member in args:
            found = _step(member, part)
            if found is not None:
                return found
    return None


def _strip(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _model_in(annotation: Any) -> type[BaseModel] | None:
    annotation = _strip(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if _is_union(annotation):
        for member in typing.get_args(annotation):
            if member is type(None):
                continue
            found = _model_in(member)
            if found is not None:
                return found
    return None


def _is_union(annotation: Any) -> bool:
    origin = typing.get_origin(_strip(annotation))
    return origin is typing.Union or origin is types.UnionType


def _is_key_of(annotation: Any, part: str) -> bool:
    return _step(annotation, part) is not None


def _union_member(annotation: Any, tag: str) -> Any:
    for member in typing.get_args(_strip(annotation)):
        member = _strip(member)
        origin = typing.get_origin(member)
        name = getattr(origin or member, "__name__", None) or getattr(
            origin or member, "_name", ""
        )
        if name and tag.lower().startswith(name.lower()):
            return member
    return None


def _unique(values: Any) -> list[str]:
    seen: list[str] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


def _sort_key(source: str | None) -> tuple[int, int]:
    numbers = re.findall(r":(\d+)", source or "")
    return (int(numbers[0]), int(numbers[1])) if len(numbers) >= 2 else (0, 0)
