"""Selections: what they compute, and what they refuse to run."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tw_pipeline.data.selection import columns_used, parse_selection
from tw_pipeline.errors import InvalidData

COLUMNS = {
    "x": np.array([0.5, 1.5, 2.5, np.nan, -3.0]),
    "n": np.array([1, 2, 3, 4, 0]),
    "flag": np.array([True, False, True, False, True]),
    "bits": np.array([1, 4, 5, 0, 6], dtype=np.uint8),
}


def evaluate(text: str) -> list[bool]:
    return parse_selection(text).evaluate(COLUMNS, 5).tolist()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x > 1", [False, True, True, False, False]),
        ("1 < x <= 2.5", [False, True, True, False, False]),
        ("x > 1 and n != 3", [False, True, False, False, False]),
        ("n == 1 or n == 4", [True, False, False, True, False]),
        ("not flag", [False, True, False, True, False]),
        ("not (x > 1 or flag)", [False, False, False, True, False]),
        ("(x > 1) & (n < 3)", [False, True, False, False, False]),
        ("(x > 1) | flag", [True, True, True, False, True]),
        ("~flag", [False, True, False, True, False]),
        ("(bits & 4) != 0", [False, True, True, False, True]),
        ("abs(x) > 2", [False, False, True, False, True]),
        ("x * 2 + n % 2 >= 4", [False, False, True, False, False]),
        ("-x > 0", [False, False, False, False, True]),
        ("x ** 2 > 2", [False, True, True, False, True]),
        ("sqrt(n) >= 1.5", [False, False, True, True, False]),
        ("max(x, n) > 2", [False, False, True, False, False]),
        ("flag + flag == 2", [True, False, True, False, True]),
        ("n and flag", [True, False, True, False, False]),
        ("flag == True", [True, False, True, False, True]),
        ("1 < 2", [True, True, True, True, True]),
    ],
)
def test_selection_computes_the_expected_mask(text, expected):
    assert evaluate(text) == expected


def test_nan_fails_every_comparison():
    # The NaN event (index 3) is cut by both a cut and its opposite.
    assert not evaluate("x > 0")[3]
    assert not evaluate("x <= 0")[3]


def test_division_by_zero_gives_no_warning_and_fails_the_cut():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert evaluate("x / n > 100") == [False] * 5


def test_columns_used_lists_columns_in_order_of_use_without_functions():
    assert columns_used("abs(eta) < 2.5 and pt > 25 or abs(eta) > 3") == ["eta", "pt"]
    assert columns_used("1 < 2") == []


def test_selection_remembers_its_study_key():
    selection = parse_selection("x > 1", origin="data.samples.ttbar.selection")
    assert selection.origin == "data.samples.ttbar.selection"
    assert selection.columns == ("x",)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("open('/etc/passwd')", "a call of 'open'"),
        ("__import__('os').system('ls')", "attribute access"),
        ("eval('1')", "a call of 'eval'"),
        ("x.__class__", "attribute access"),
        ("x.real > 0", "attribute access"),
        ("x[0] > 1", "indexing with []"),
        ("(lambda: 1)() > 0", "a call of a computed function"),
        ("[a for a in x]", "comprehensions"),
        ("n in (1, 2)", "'in'"),
        ("x == 'abc'", "the text 'abc'"),
        ("x if n else n", "'... if ... else ...'"),
        ("(y := 3) > 1", "assignments with :="),
        ("abs(x, n) > 1", "abs() with 2 argument(s)"),
    ],
)
def test_forbidden_constructs_are_refused_before_running(text, found):
    with pytest.raises(InvalidData) as caught:
        parse_selection(text, origin="data.selection")
    message = str(caught.value)
    assert found in message
    assert "data.selection" in message
    assert "not allowed" in message


def test_call_of_unknown_function_suggests_a_close_one():
    with pytest.raises(InvalidData, match=r"did you mean 'sqrt'\?"):
        parse_selection("sqr(x) > 1")


def test_syntax_error_points_at_the_spot_with_a_caret():
    with pytest.raises(InvalidData) as caught:
        parse_selection("njets >= 2 and and nbjets == 1", origin="data.selection")
    problem = caught.value.problems[0]
    assert problem.source == "data.selection"
    text, caret = problem.snippet.splitlines()
    assert text == "njets >= 2 and and nbjets == 1"
    assert caret == " " * 15 + "^"


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("njets >= 2 && nbjets == 1", "write 'and' / 'or' instead of '&&' / '||'"),
        ("!isData", "write 'not' instead of '!'"),
        ("OS = 1", "compare with '=='"),
    ],
)
def test_syntax_errors_from_other_languages_get_a_specific_hint(text, hint):
    with pytest.raises(InvalidData) as caught:
        parse_selection(text)
    assert hint in caught.value.problems[0].hint


def test_bitwise_and_between_bare_comparisons_is_refused():
    # Python reads this as 'x > (1 & n) < 3': valid syntax, wrong cut.
    with pytest.raises(InvalidData, match="'&' between comparisons"):
        parse_selection("x > 1 & n < 3")


def test_empty_selection_is_refused():
    with pytest.raises(InvalidData, match="the selection is empty"):
        parse_selection("   ")


def test_line_breaks_from_yaml_block_scalars_are_spaces():
    assert parse_selection("x > 1\nand n < 3").evaluate(COLUMNS, 5).tolist() == [
        False,
        True,
        False,
        False,
        False,
    ]


def test_numeric_result_is_refused_so_cuts_cannot_weight_events():
    selection = parse_selection("x * (n > 1)")
    with pytest.raises(InvalidData, match="gives numbers") as caught:
        selection.evaluate(COLUMNS, 5)
    assert "data.weight" in caught.value.problems[0].hint


def test_bitwise_operator_on_decimals_is_refused_when_evaluated():
    selection = parse_selection("x & n")
    with pytest.raises(InvalidData, match="'&' needs true/false or whole-number"):
        selection.evaluate(COLUMNS, 5)


def test_uncomputable_numbers_become_a_data_error():
    selection = parse_selection("n ** -1 > 0")
    with pytest.raises(InvalidData, match="cannot be computed"):
        selection.evaluate(COLUMNS, 5)
