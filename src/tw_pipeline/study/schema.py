"""JSON Schema of the study file, for editors and documentation."""

from __future__ import annotations

from typing import Any

from tw_pipeline.study.models import Study

__all__ = ["study_schema"]


def study_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of a study file.

    Keys are the names users write (``class``, not the Python attribute), and
    every field carries its description, default, bounds and choices.
    """
    schema = Study.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "twpipe study"
    return schema
