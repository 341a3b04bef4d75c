"""The study-file reference, rendered as Markdown from the JSON Schema.

The reference in docs/study-file.md is this module's output, so the
documentation says exactly what validation accepts: the same descriptions,
defaults, bounds and choices. A test fails when the two drift apart;
``twpipe schema --format markdown > docs/study-file.md`` brings them back.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tw_pipeline.study.schema import study_schema

__all__ = ["study_reference"]

_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")

_INTRO = """\
# Study file reference

Every key a study file may hold, section by section, with its type, default
and meaning. A key that is not listed here is an error. Relative paths are
resolved against the study file's folder.

This page is generated from the models that validate study files
(`twpipe schema --format markdown`); `twpipe schema` prints the same
information as JSON Schema for editors.
"""


def study_reference() -> str:
    """Return the Markdown reference of every section of a study file."""
    schema = study_schema()
    definitions = schema["$defs"]

    parts = [_INTRO, _section("Top level", "study file", schema, definitions)]

    # Sections in the order a user meets them: the order of the top-level keys,
    # then any nested section in the order it is first referenced.
    for name, path in _nested_sections(schema, definitions):
        parts.append(_section(name, path, definitions[name], definitions))
    return "\n".join(parts)


def _nested_sections(
    schema: dict[str, Any], definitions: dict[str, Any]
) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    seen: set[str] = set()

    def visit(node: dict[str, Any], prefix: str) -> None:
        for key, field in node.get("properties", {}).items():
            path = f"{prefix}{key}"
            for name, is_mapping in _references(field):
                if name in seen:
                    continue
                seen.add(name)
                shown = f"{path}.<name>" if is_mapping else path
                found.append((name, shown))
                visit(definitions[name], shown + ".")

    visit(schema, "")
    return found


def _references(field: dict[str, Any]) -> list[tuple[str, bool]]:
    # A field refers to a section directly, through "or null", or as the
    # values of a mapping (data.samples.<name>).
    references: list[tuple[str, bool]] = []
    for option in field.get("anyOf", [field]):
        if "$ref" in option:
            references.append((option["$ref"].rsplit("/", 1)[-1], False))
        for values in option.get("patternProperties", {}).values():
            if "$ref" in values:
                references.append((values["$ref"].rsplit("/", 1)[-1], True))
        additional = option.get("additionalProperties")
        if isinstance(additional, dict) and "$ref" in additional:
            references.append((additional["$ref"].rsplit("/", 1)[-1], True))
    return references


def _section(
    name: str, path: str, node: dict[str, Any], definitions: dict[str, Any]
) -> str:
    title = f"## `{path}`" if name != "Top level" else "## Top level"
    lines = [title, "", node.get("description", "").strip(), ""]
    required = set(node.get("required", []))

    lines.append("| key | type | default | description |")
    lines.append("| --- | --- | --- | --- |")
    for key, field in node.get("properties", {}).items():
        description = field.get("description") or _referenced_description(
            field, definitions
        )
        default = "required" if key in required else _default(field)
        row = (f"`{key}`", _type(field), default, _escape(description))
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    return "\n".join(lines)


def _referenced_description(field: dict[str, Any], definitions: dict[str, Any]) -> str:
    for name, _ in _references(field):
        return definitions[name].get("description", "")
    return ""


def _type(field: dict[str, Any]) -> str:
    options = [_one_type(option) for option in field.get("anyOf", [field])]
    return _escape(" or ".join(option for option in options if option))


def _one_type(option: dict[str, Any]) -> str:
    if "$ref" in option:
        return "section"
    if "const" in option:
        return f"`{json.dumps(option['const'])}`"
    if "enum" in option:
        return "one of " + ", ".join(f"`{value}`" for value in option["enum"])

    kind = option.get("type")
    if kind == "array":
        items = _one_type(option.get("items", {})) or "value"
        text = f"list of {items}"
    elif kind == "object":
        text = "mapping"
    elif kind is None:
        return "any"
    else:
        text = {"integer": "integer", "number": "number", "string": "text",
                "boolean": "true/false", "null": "null"}.get(kind, kind)
    bounds = _bounds(option)
    return f"{text} ({bounds})" if bounds else text


def _bounds(option: dict[str, Any]) -> str:
    bounds = []
    for key, sign in (("minimum", ">="), ("exclusiveMinimum", ">"),
                      ("maximum", "<="), ("exclusiveMaximum", "<")):
        if key in option:
            bounds.append(f"{sign} {option[key]}")
    if "minItems" in option:
        bounds.append(f"at least {option['minItems']}")
    if "pattern" in option:
        bounds.append("letters, digits and `_.+-`")
    return ", ".join(bounds)


def _default(field: dict[str, Any]) -> str:
    if "default" not in field:
        # A nested section without an explicit default is filled in with its
        # own defaults when left out.
        return "its defaults" if _references(field) else ""
    return f"`{json.dumps(field['default'])}`"


def _escape(text: str) -> str:
    # A pipe would end the table cell; newlines would end the row; "<" before
    # a letter would start an HTML tag and hide placeholders such as <dir>.
    text = text.replace("|", "\\|").replace("\n", " ")
    return _TAG_START.sub(r"\\<", text)
