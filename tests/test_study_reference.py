"""The study-file reference in docs/ is generated from the models and kept current."""

from __future__ import annotations

from pathlib import Path

from tw_pipeline.study.reference import study_reference
from tw_pipeline.study.schema import study_schema

REFERENCE = Path(__file__).parents[1] / "docs" / "study-file.md"


def test_docs_reference_matches_the_models():
    written = REFERENCE.read_text(encoding="utf-8")

    assert written == study_reference(), (
        "docs/study-file.md is out of date; regenerate it with "
        "`twpipe schema --format markdown > docs/study-file.md`"
    )


def test_reference_lists_every_key_of_every_section():
    schema = study_schema()
    text = study_reference()

    for node in [schema, *schema["$defs"].values()]:
        for key, field in node["properties"].items():
            assert f"| `{key}` |" in text, key
            assert field.get("description") or "$ref" in str(field), key


def test_factory_defaults_are_in_the_schema():
    properties = study_schema()["$defs"]["Report"]["properties"]

    assert properties["formats"]["default"] == ["png", "pdf"]


def test_markdown_format_through_the_command_line(twpipe):
    markdown = twpipe("schema", "--format", "markdown")
    wrong = twpipe("schema", "--format", "yaml")

    assert markdown.code == 0 and markdown.stdout == study_reference()
    assert wrong.code == 2 and "expected 'json' or 'markdown'" in wrong.stderr
