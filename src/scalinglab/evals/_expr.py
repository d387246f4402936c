"""A small, safe expression language for AIW answer formulas and derived template text.

Task YAML files compute answers from template variables (``M + 1``, ``NN + FN + K - 2*(S + B + 1)``)
and derive wording (``count(N, 'brother')`` gives ``"1 brother"`` / ``"4 brothers"``). Formulas are
parsed with :mod:`ast` and only a whitelist of node types is evaluated: integer and string
constants, variable names, ``+ - * // %``, unary minus, comparisons, ``a if cond else b`` and
calls of the named functions in :data:`FUNCTIONS`. Nothing is ``eval``-ed, so a task file cannot
run code.

>>> evaluate("M + 1", {"N": 3, "M": 6})
7
>>> evaluate("count(N, 'brother')", {"N": 1})
'1 brother'
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping

from ..errors import ConfigError, suggest

__all__ = ["FUNCTIONS", "count", "evaluate", "names", "number_word", "plural"]

_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                 "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
                 "seventeen", "eighteen", "nineteen", "twenty")


def plural(n: int, word: str) -> str:
    """``word`` for n == 1, else ``word + "s"`` (the only English the AIW templates need)."""
    return word if n == 1 else word + "s"


def count(n: int, word: str) -> str:
    """``"1 brother"``, ``"4 brothers"``, ``"no sisters"`` (upstream wording for zero)."""
    if n == 0:
        return f"no {word}s"
    return f"{n} {plural(n, word)}"


def number_word(n: int) -> str:
    """``4 -> "four"`` for 0..20 (upstream prompts 3, 4, 144-177 spell numbers out)."""
    if not 0 <= n < len(_NUMBER_WORDS):
        raise ConfigError(f"number_word() covers 0..{len(_NUMBER_WORDS) - 1}; got {n}")
    return _NUMBER_WORDS[n]


FUNCTIONS: dict[str, Callable[..., object]] = {
    "abs": abs,
    "count": count,
    "max": max,
    "min": min,
    "number_word": number_word,
    "plural": plural,
}

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod}
_CMPOPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
           ast.Gt: operator.gt, ast.GtE: operator.ge}


def _parse(expr: str, where: str) -> ast.Expression:
    if not isinstance(expr, str) or not expr.strip():
        raise ConfigError(f"{where}: expected a formula such as 'M + 1'; got {expr!r}")
    try:
        return ast.parse(expr.strip(), mode="eval")
    except SyntaxError as exc:
        raise ConfigError(f"{where}: cannot parse formula {expr!r}: {exc.msg}") from None


def names(expr: str, *, where: str = "formula") -> set[str]:
    """The variable names a formula reads (function names excluded)."""
    tree = _parse(expr, where)
    funcs = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in funcs}


def evaluate(expr: str, variables: Mapping[str, object], *, where: str = "formula") -> object:
    """Evaluate ``expr`` with ``variables``; unknown names and node types raise ConfigError."""
    tree = _parse(expr, where)

    def ev(node: ast.AST) -> object:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, str)) \
                and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in variables:
                avail = ", ".join(sorted(variables)) or "(none)"
                raise ConfigError(
                    f"{where}: formula {expr!r} uses the variable {node.id!r}, which is not defined."
                    f"{suggest(node.id, variables)} Defined variables: {avail}. Add it to the "
                    f"variation's variables or fix the formula."
                )
            return variables[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Add) and isinstance(left, str) and isinstance(right, str):
                return left + right
            _need_ints(left, right)
            if isinstance(node.op, (ast.FloorDiv, ast.Mod)) and right == 0:
                raise ConfigError(f"{where}: division by zero in {expr!r}")
            return _BINOPS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = ev(node.operand)
            _need_ints(v)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.Compare) and all(type(o) in _CMPOPS for o in node.ops):
            left = ev(node.left)
            for op, comp in zip(node.ops, node.comparators):
                right = ev(comp)
                if not _CMPOPS[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return ev(node.body) if ev(node.test) else ev(node.orelse)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            fn = FUNCTIONS.get(node.func.id)
            if fn is None:
                raise ConfigError(
                    f"{where}: unknown function {node.func.id!r} in {expr!r}."
                    f"{suggest(node.func.id, FUNCTIONS)} Allowed: {', '.join(sorted(FUNCTIONS))}"
                )
            return fn(*[ev(a) for a in node.args])
        raise ConfigError(
            f"{where}: {type(node).__name__} is not allowed in formula {expr!r}; use integers, "
            f"variables, + - * // %, comparisons, 'a if c else b' and {', '.join(sorted(FUNCTIONS))}()"
        )

    def _need_ints(*vals: object) -> None:
        for v in vals:
            if not isinstance(v, int) or isinstance(v, bool):
                raise ConfigError(f"{where}: arithmetic on {v!r} in {expr!r}; expected integers")

    return ev(tree)
