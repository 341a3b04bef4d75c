"""Event selections: boolean expressions over columns, evaluated without ``eval``.

A selection such as ``"reg2j2b == 1 and OS == 1"`` or ``"1 < abs(eta) < 2.5"``
is parsed with :mod:`ast` and every node is checked against a short list of
allowed constructs before anything runs. Evaluation walks the checked tree
and applies numpy functions to the column arrays, so a selection can compare
and combine columns but can never call arbitrary code, read attributes or
import modules.

The language is a small part of Python's expression syntax:

* comparisons ``== != < <= > >=``, also chained (``1 < x < 2``);
* ``and``, ``or``, ``not`` (non-zero numbers count as true, as in Python) and
  their numpy spellings ``&``, ``|``, ``~`` (bitwise on whole numbers);
* arithmetic ``+ - * / // % **``, unary minus, parentheses;
* numbers, ``True``, ``False``, column names, and the functions in
  :data:`FUNCTIONS`.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from tw_pipeline.errors import InvalidData, Problem

__all__ = ["FUNCTIONS", "Selection", "columns_used", "parse_selection"]

# Functions a selection may call, each with its number of arguments. They map
# to numpy functions that work element by element on the columns.
FUNCTIONS: dict[str, tuple[Callable[..., np.ndarray], int]] = {
    "abs": (np.abs, 1),
    "sqrt": (np.sqrt, 1),
    "exp": (np.exp, 1),
    "log": (np.log, 1),
    "log10": (np.log10, 1),
    "sin": (np.sin, 1),
    "cos": (np.cos, 1),
    "tan": (np.tan, 1),
    "hypot": (np.hypot, 2),
    "min": (np.minimum, 2),
    "max": (np.maximum, 2),
}

_COMPARISONS: dict[type[ast.cmpop], Callable[[object, object], object]] = {
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
}

_ARITHMETIC: dict[type[ast.operator], Callable[[object, object], object]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.FloorDiv: np.floor_divide,
    ast.Mod: np.mod,
    ast.Pow: np.power,
}

# Bitwise operators act as logical operators on true/false operands and
# bitwise on whole numbers (trigger or flag bit masks), as in numpy.
_BITWISE: dict[type[ast.operator], tuple[str, Callable[[object, object], object]]] = {
    ast.BitAnd: ("&", np.bitwise_and),
    ast.BitOr: ("|", np.bitwise_or),
    ast.BitXor: ("^", np.bitwise_xor),
}

# Names for constructs users are likely to try, for the error message.
_CONSTRUCT_NAMES: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access",
    ast.Subscript: "indexing with []",
    ast.Lambda: "lambda functions",
    ast.IfExp: "'... if ... else ...'",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.List: "lists",
    ast.Tuple: "tuples",
    ast.Set: "sets",
    ast.Dict: "dictionaries",
    ast.NamedExpr: "assignments with :=",
    ast.JoinedStr: "text (f-strings)",
    ast.Starred: "* unpacking",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}

_ALLOWED_HELP = (
    "selections may use comparisons (== != < <= > >=), and/or/not, & | ~, "
    "arithmetic (+ - * / // % **), parentheses, numbers, column names and "
    f"the functions {', '.join(FUNCTIONS)}"
)


@dataclass(frozen=True)
class Selection:
    """A checked selection expression, ready to evaluate on column arrays.

    Create it with :func:`parse_selection`.

    Attributes:
        text: the expression as the user wrote it.
        origin: where it comes from, as a study key path
            (``data.selection``, ``data.samples.ttbar.selection``).
        columns: the column names it reads, in order of first use.
    """

    text: str
    origin: str
    columns: tuple[str, ...]
    _tree: ast.expr = field(repr=False, compare=False)

    def evaluate(self, columns: Mapping[str, np.ndarray], rows: int) -> np.ndarray:
        """Return the boolean mask of the rows that pass the selection.

        Args:
            columns: 1-D arrays of equal length, one per name in ``columns``.
            rows: the number of rows, used when the expression is a constant.

        Returns:
            A boolean array of shape ``(rows,)``.

        Raises:
            InvalidData: when the expression applies an operator to values it
                does not accept (``&`` on decimals), or gives numbers instead
                of true/false.
        """
        evaluator = _Evaluator(self, columns)
        try:
            # Division by zero and the like give inf/nan, which fail every
            # comparison; numpy need not warn about each of them.
            with np.errstate(all="ignore"):
                result = np.asarray(evaluator.value(self._tree))
        except (TypeError, ValueError, OverflowError) as err:
            message = f"cannot be computed ({err})"
            hint = "check the operand types and the size of the numbers"
            raise evaluator.fail(message, hint=hint) from None
        if result.dtype != np.bool_:
            raise InvalidData(
                Problem(
                    message=(
                        f"selection {self.text!r} gives numbers "
                        f"({result.dtype}), not true/false"
                    ),
                    source=self.origin,
                    hint=(
                        "write a condition such as 'njets != 0'; a selection "
                        "cannot weight events, put weights in data.weight"
                    ),
                )
            )
        if result.ndim == 0:
            return np.full(rows, bool(result))
        return result


def parse_selection(text: str, *, origin: str = "selection") -> Selection:
    """Parse and check a selection expression.

    Args:
        text: the expression, e.g. ``"njets >= 2 and abs(eta_lep1) < 2.5"``.
            Line breaks (from YAML block scalars) are treated as spaces.
        origin: the study key the expression comes from, for messages.

    Returns:
        The checked :class:`Selection`.

    Raises:
        InvalidData: when the expression is empty, is not valid syntax, or
            uses a construct outside the selection language (function calls
            other than :data:`FUNCTIONS`, attribute access, text, ...).
    """
    flat = text.replace("\r", " ").replace("\n", " ")
    if not flat.strip():
        raise InvalidData(
            Problem(
                message="the selection is empty",
                source=origin,
                hint="remove the key or write a condition such as 'njets >= 2'",
            )
        )

    try:
        tree = ast.parse(flat.strip(), mode="eval").body
    except SyntaxError as err:
        raise InvalidData(_syntax_problem(flat.strip(), err, origin)) from None

    stripped = flat.strip()
    _Checker(stripped, origin).visit(tree)
    return Selection(
        text=stripped,
        origin=origin,
        columns=tuple(_names_in(tree)),
        _tree=tree,
    )


def columns_used(text: str) -> list[str]:
    """Return the column names a selection reads, in order of first use.

    Args:
        text: the selection expression.

    Returns:
        The column names, without duplicates.

    Raises:
        InvalidData: when the expression is not a valid selection.
    """
    return list(parse_selection(text).columns)


def _names_in(tree: ast.expr) -> list[str]:
    """Column names in a checked tree, in order of first use in the text."""
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    found = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and id(node) not in called
    ]
    found.sort(key=lambda node: (node.lineno, node.col_offset))
    return list(dict.fromkeys(node.id for node in found))


def _caret(text: str, offset: int, width: int = 1) -> str:
    """The expression with a caret line under ``offset`` (0-based)."""
    offset = max(0, min(offset, len(text)))
    return f"{text}\n{' ' * offset}{'^' * max(1, width)}"


def _syntax_problem(text: str, err: SyntaxError, origin: str) -> Problem:
    """Turn Python's syntax error into a message in the selection's terms."""
    offset = (err.offset or 1) - 1
    hint = "check the parentheses and operators; " + _ALLOWED_HELP
    if "&&" in text or "||" in text:
        hint = (
            "write 'and' / 'or' instead of '&&' / '||' "
            "(e.g. 'njets >= 2 and nbjets == 1')"
        )
    elif "!" in text.replace("!=", ""):
        hint = "write 'not' instead of '!' (e.g. 'not isData')"
    elif "=" in text.replace("==", "").replace("!=", "").replace("<=", "").replace(
        ">=", ""
    ):
        hint = "compare with '==' (e.g. 'OS == 1'); a single '=' assigns"
    message = err.msg if err.msg else "invalid syntax"
    return Problem(
        message=f"selection {text!r} is not a valid expression: {message}",
        source=origin,
        snippet=_caret(text, offset),
        hint=hint,
    )


class _Checker(ast.NodeVisitor):
    """Walk a parsed expression and refuse anything outside the language."""

    def __init__(self, text: str, origin: str) -> None:
        self.text = text
        self.origin = origin

    def refuse(self, node: ast.AST, what: str, hint: str = _ALLOWED_HELP) -> None:
        offset = getattr(node, "col_offset", 0)
        end = getattr(node, "end_col_offset", offset + 1) or offset + 1
        raise InvalidData(
            Problem(
                message=f"selection {self.text!r} uses {what}, which is not allowed",
                source=self.origin,
                snippet=_caret(self.text, offset, end - offset),
                hint=hint,
            )
        )

    def generic_visit(self, node: ast.AST) -> None:
        allowed = (
            ast.BoolOp,
            ast.UnaryOp,
            ast.BinOp,
            ast.Compare,
            ast.Load,
            # Operator nodes; visit_BinOp and visit_Compare filter them.
            ast.boolop,
            ast.unaryop,
            ast.operator,
            ast.cmpop,
        )
        if not isinstance(node, allowed):
            what = _CONSTRUCT_NAMES.get(type(node), f"'{type(node).__name__}'")
            self.refuse(node, what)
        super().generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if not isinstance(node.op, tuple(_ARITHMETIC) + tuple(_BITWISE)):
            self.refuse(node, f"the operator {type(node.op).__name__}")
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        for op in node.ops:
            if type(op) not in _COMPARISONS:
                word = {ast.In: "in", ast.NotIn: "not in", ast.Is: "is"}.get(
                    type(op), "is not"
                )
                self.refuse(
                    node,
                    f"'{word}'",
                    hint="compare with == or != and combine with or, "
                    "e.g. 'njets == 2 or njets == 3'",
                )
        self._refuse_precedence_trap(node)
        self.generic_visit(node)

    def _refuse_precedence_trap(self, node: ast.Compare) -> None:
        # '&' binds tighter than '<' in Python, so 'x > 1 & y < 2' means
        # 'x > (1 & y) < 2': valid syntax, silently the wrong cut.
        operands = [node.left, *node.comparators]
        for position, operand in enumerate(operands):
            if not (isinstance(operand, ast.BinOp) and type(operand.op) in _BITWISE):
                continue
            inner = position not in (0, len(operands) - 1)
            holds_comparison = isinstance(operand.left, ast.Compare) or isinstance(
                operand.right, ast.Compare
            )
            if inner or holds_comparison:
                symbol = _BITWISE[type(operand.op)][0]
                self.refuse(
                    operand,
                    f"'{symbol}' between comparisons without parentheses",
                    hint=(
                        f"'{symbol}' binds before comparisons; write "
                        f"'(a > 1) {symbol} (b < 2)' or use "
                        f"'{'and' if symbol == '&' else 'or'}'"
                    ),
                )

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool) or isinstance(value, (int, float)):
            return
        if isinstance(value, (str, bytes)):
            self.refuse(
                node, f"the text {value!r}", hint="compare columns with numbers"
            )
        self.refuse(node, f"the value {value!r}")

    def visit_Name(self, node: ast.Name) -> None:
        return

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Attribute):
            self.refuse(node.func, "attribute access")
        if not isinstance(node.func, ast.Name):
            self.refuse(node, "a call of a computed function")
            return
        name = node.func.id
        if name not in FUNCTIONS:
            close = difflib.get_close_matches(name, FUNCTIONS, n=1)
            suggestion = f"did you mean '{close[0]}'? " if close else ""
            self.refuse(
                node,
                f"a call of {name!r}",
                hint=f"{suggestion}functions available: {', '.join(FUNCTIONS)}",
            )
        arity = FUNCTIONS[name][1]
        if node.keywords or len(node.args) != arity:
            self.refuse(
                node,
                f"{name}() with {len(node.args) + len(node.keywords)} argument(s)",
                hint=f"{name}() takes {arity} positional argument(s)",
            )
        for arg in node.args:
            self.visit(arg)


class _Evaluator:
    """Compute a checked expression on numpy columns."""

    def __init__(self, selection: Selection, columns: Mapping[str, np.ndarray]):
        self.selection = selection
        self.columns = columns

    def fail(self, message: str, hint: str) -> InvalidData:
        return InvalidData(
            Problem(
                message=f"selection {self.selection.text!r}: {message}",
                source=self.selection.origin,
                hint=hint,
            )
        )

    def value(self, node: ast.expr) -> object:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in self.columns:
                message = f"column {node.id!r} was not read"
                hint = "pass every column in Selection.columns to evaluate()"
                raise self.fail(message, hint=hint)
            return self.columns[node.id]
        if isinstance(node, ast.BoolOp):
            parts = [self.truth(self.value(v)) for v in node.values]
            combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            return combine.reduce(np.broadcast_arrays(*parts), axis=0)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.Call):
            function = FUNCTIONS[node.func.id][0]  # type: ignore[attr-defined]
            return function(*(self.number(self.value(arg)) for arg in node.args))
        # The checker has refused every other node already.
        msg = f"unchecked node {type(node).__name__}"
        raise AssertionError(msg)

    @staticmethod
    def truth(value: object) -> np.ndarray:
        """Truth value as in Python: non-zero numbers are true."""
        array = np.asarray(value)
        return array if array.dtype == np.bool_ else array != 0

    @staticmethod
    def number(value: object) -> object:
        """Arithmetic treats true/false as 1/0 (numpy would 'or' booleans)."""
        array = np.asarray(value)
        if array.dtype == np.bool_:
            return array.astype(np.int8)
        return value

    def unary(self, node: ast.UnaryOp) -> object:
        operand = self.value(node.operand)
        if isinstance(node.op, ast.Not):
            return np.logical_not(self.truth(operand))
        if isinstance(node.op, ast.Invert):
            array = np.asarray(operand)
            if array.dtype == np.bool_:
                return np.logical_not(array)
            if array.dtype.kind in "iu":
                return np.invert(array)
            message = f"'~' needs true/false or whole numbers, got {array.dtype}"
            raise self.fail(message, hint="use 'not' to negate a condition")
        if isinstance(node.op, ast.USub):
            return np.negative(self.number(operand))
        return self.number(operand)

    def compare(self, node: ast.Compare) -> object:
        result: object = True
        left = self.value(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.value(right_node)
            result = np.logical_and(result, _COMPARISONS[type(op)](left, right))
            left = right
        return result

    def binary(self, node: ast.BinOp) -> object:
        left = self.value(node.left)
        right = self.value(node.right)
        if type(node.op) in _ARITHMETIC:
            return _ARITHMETIC[type(node.op)](self.number(left), self.number(right))

        symbol, function = _BITWISE[type(node.op)]
        kinds = {np.asarray(left).dtype.kind, np.asarray(right).dtype.kind}
        if kinds == {"b"}:
            return function(left, right)
        if kinds <= {"b", "i", "u"}:
            return function(self.number(left), self.number(right))
        found = ", ".join(sorted(str(np.asarray(v).dtype) for v in (left, right)))
        message = f"'{symbol}' needs true/false or whole-number operands, got {found}"
        hint = (
            f"put comparisons in parentheses, '(a > 1) {symbol} (b < 2)', "
            "or use 'and' / 'or'"
        )
        raise self.fail(message, hint=hint)
