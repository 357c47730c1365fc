"""Size, dimension and error formulas of the registry, as code.

A formula is a :class:`Formula`: the text ``reluc list`` shows and a function of the
parameters. Two ways to make one:

- :func:`expr` (what a string in a registration becomes): a Python expression in the
  parameters, read once with :mod:`ast` and interpreted by a small evaluator (arithmetic,
  comparisons, ``a if c else b``, ``and``/``or``, subscripts, list and tuple literals,
  one-generator comprehensions, and calls of :data:`FUNCTIONS`). Nothing is ``eval``-ed,
  and a name that is neither a parameter nor a function is refused when the expression is
  made, at import;
- :func:`code` for what an expression would say badly (a table of published depths): a
  Python function of some of the parameters, with the text to show.

The registry evaluates every formula on the constructor's example when it registers it,
so a formula that fails at all fails at import (:func:`reluc.registry.register`).
"""

from __future__ import annotations

import ast
import inspect
import math
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


def clog2(n: int) -> int:
    """ceil(log2 n) for n >= 1 (0 for n <= 1): the depth of a balanced binary tree."""
    return (int(n) - 1).bit_length() if n > 1 else 0


FUNCTIONS: dict[str, Any] = {
    "ceil": math.ceil, "floor": math.floor, "log2": math.log2, "clog2": clog2, "min": min,
    "max": max, "len": len, "abs": abs, "sum": sum, "comb": math.comb, "sqrt": math.sqrt,
    "cos": math.cos, "e": math.e, "pi": math.pi,
}  # fmt: skip


@dataclass(frozen=True)
class Formula:
    """``text``: what users read; ``fn(values)``: its value for the parameters ``values``
    (a dict name -> value); ``names``: the parameters it reads."""

    text: str
    fn: Callable[[dict[str, Any]], Any]
    names: frozenset[str] = frozenset()

    def __call__(self, values: dict[str, Any]) -> Any:
        return self.fn(values)

    def __str__(self) -> str:
        return self.text


def code(text: str, fn: Callable[..., Any]) -> Formula:
    """A formula written as a function; its arguments name the parameters it reads."""
    names = tuple(inspect.signature(fn).parameters)
    return Formula(text, lambda values: fn(**{k: values[k] for k in names}), frozenset(names))


def as_formula(f: str | int | Formula) -> Formula:
    """A registration's formula: a Formula as it is, a string or a number as :func:`expr`."""
    return f if isinstance(f, Formula) else expr(str(f))


_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Pow: operator.pow,
    ast.Mod: operator.mod,
}  # fmt: skip
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_,
    ast.IsNot: operator.is_not, ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}  # fmt: skip


def expr(text: str) -> Formula:
    """An expression formula (see the module docstring); ValueError naming what it does
    not allow."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as e:
        raise ValueError(f"formula '{text}': {e.msg}") from None
    names = frozenset(_free_names(tree, text)) - set(FUNCTIONS)
    return Formula(text, lambda values: _eval(tree, {**FUNCTIONS, **values}), names)


def _free_names(node: ast.AST, text: str, bound: frozenset[str] = frozenset()) -> Iterable[str]:
    """The names an expression reads (comprehension variables excluded); refuses every
    construct the evaluator does not know."""
    if isinstance(node, (ast.GeneratorExp, ast.ListComp)):
        if len(node.generators) != 1 or node.generators[0].is_async:
            raise ValueError(f"formula '{text}': one generator per comprehension")
        gen = node.generators[0]
        if not isinstance(gen.target, ast.Name):
            raise ValueError(f"formula '{text}': a comprehension binds one name")
        yield from _free_names(gen.iter, text, bound)
        inner = bound | {gen.target.id}
        for part in (node.elt, *gen.ifs):
            yield from _free_names(part, text, inner)
        return
    if isinstance(node, ast.Name):
        if node.id not in bound:
            yield node.id
        return
    allowed = (ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, ast.IfExp, ast.Call,
               ast.Subscript, ast.List, ast.Tuple, ast.Constant, ast.Load, ast.operator,
               ast.unaryop, ast.cmpop, ast.boolop, ast.Slice)
    if not isinstance(node, allowed) or (isinstance(node, ast.Call) and (
            not isinstance(node.func, ast.Name) or node.keywords)):
        raise ValueError(f"formula '{text}': {type(node).__name__} is not allowed")
    for child in ast.iter_child_nodes(node):
        yield from _free_names(child, text, bound)


def _eval(node: ast.AST, env: dict[str, Any]) -> Any:
    kind = type(node)
    if kind is ast.Constant:
        return node.value
    if kind is ast.Name:
        try:
            return env[node.id]
        except KeyError:
            raise ValueError(f"unknown name '{node.id}' in a formula") from None
    if kind is ast.BinOp:
        return _BINARY[type(node.op)](_eval(node.left, env), _eval(node.right, env))
    if kind is ast.UnaryOp:
        return _UNARY[type(node.op)](_eval(node.operand, env))
    if kind is ast.Compare:
        left = _eval(node.left, env)
        for op, right_node in zip(node.ops, node.comparators):
            right = _eval(right_node, env)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if kind is ast.BoolOp:
        is_and = isinstance(node.op, ast.And)
        value = None
        for part in node.values:
            value = _eval(part, env)
            if bool(value) != is_and:  # and: the first false; or: the first true
                return value
        return value
    if kind is ast.IfExp:
        return _eval(node.body if _eval(node.test, env) else node.orelse, env)
    if kind is ast.Call:
        return env[node.func.id](*(_eval(a, env) for a in node.args))
    if kind is ast.Subscript:
        return _eval(node.value, env)[_eval(node.slice, env)]
    if kind is ast.Slice:
        return slice(*(None if p is None else _eval(p, env)
                       for p in (node.lower, node.upper, node.step)))
    if kind in (ast.List, ast.Tuple):
        items = [_eval(e, env) for e in node.elts]
        return items if kind is ast.List else tuple(items)
    if kind in (ast.GeneratorExp, ast.ListComp):
        gen = node.generators[0]
        out = []
        for v in _eval(gen.iter, env):
            inner = {**env, gen.target.id: v}
            if all(_eval(c, inner) for c in gen.ifs):
                out.append(_eval(node.elt, inner))
        return out
    raise ValueError(f"{kind.__name__} is not allowed in a formula")
