"""JSON Schema of the study file, for editors and documentation."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from tw_pipeline.study.models import Section, Study

__all__ = ["study_schema"]


def study_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of a study file.

    Keys are the names users write (``class``, not the Python attribute), and
    every field carries its description, default, bounds and choices.
    """
    schema = Study.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "twpipe study"

    _add_factory_defaults(schema, Study)
    for model in _sections():
        if model.__name__ in schema.get("$defs", {}):
            _add_factory_defaults(schema["$defs"][model.__name__], model)
    return schema


def _sections() -> list[type[Section]]:
    found: list[type[Section]] = []
    pending = list(Section.__subclasses__())
    while pending:
        model = pending.pop()
        found.append(model)
        pending.extend(model.__subclasses__())
    return found


def _add_factory_defaults(node: dict[str, Any], model: type[BaseModel]) -> None:
    # pydantic leaves defaults made by a factory (an empty grid, the list of
    # plot formats) out of the schema; editors and the reference want them.
    # Whole sections stay without one: they default to their own defaults.
    properties = node.get("properties", {})
    for name, field in model.model_fields.items():
        key = field.alias or name
        if field.default_factory is None or key not in properties:
            continue
        value = field.default_factory()  # type: ignore[call-arg]
        if isinstance(value, BaseModel):
            continue
        properties[key].setdefault("default", value)
