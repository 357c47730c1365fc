"""Formulas as code: the registry's size, dimension and error formulas are read with ast
and interpreted (no eval), checked against the parameters and evaluated on the example
at registration, so a mistake fails at import."""

from __future__ import annotations

import math

import pytest

from reluc import formulas
from reluc.registry import Box, register
from reluc.spec import Int, Param

# the interpreter must agree with Python on what the registry writes
CASES = [
    ("clog2(n)", {"n": 1000}),
    ("clog2(max(len(g) for g in groups)) + clog2(len(groups))", {"groups": [[1, 2, 3], [4]]}),
    ("max(2*len(b), max(len(r) for r in a) + 1)", {"a": [[1], [1, 2, 3, 4]], "b": [[0]] * 2}),
    ("(2*n if domain[0] is None else None) if n > 1 else 0", {"n": 5, "domain": (None, 1)}),
    ("(2*n if domain[0] is None else None) if n > 1 else 0", {"n": 5, "domain": (0, 1)}),
    ("[0, 0, 1, 3][n] if method == 'best' and n <= 3 else 7", {"n": 3, "method": "best"}),
    ("[0, 0, 1, 3][n] if method == 'best' and n <= 3 else 7", {"n": 3, "method": "x"}),
    ("sqrt(n)*(1 - cos(pi/2**levels)**log2(n)) + 2**-40", {"n": 8, "levels": 5}),
    ("e*4**(-L)/8 + 2**-40", {"L": 3}),
    ("d*(d-1)/8*4**(-L)", {"d": 5, "L": 2}),
    ("0 < n <= 4 or not n", {"n": 4}),
    ("n % 3 - -n // 2 + abs(-n) + sum([n, 1]) + comb(n, 2) + floor(n / 3) + ceil(n / 3)",
     {"n": 7}),
    ("a[1:] + [x * 2 for x in a if x > 1]", {"a": [1, 2, 3]}),
]


@pytest.mark.parametrize("text, values", CASES)
def test_a_formula_means_what_python_says(text, values):
    env = {"__builtins__": {}, **formulas.FUNCTIONS, **values}
    assert formulas.expr(text)(values) == eval(text, env)  # noqa: S307


@pytest.mark.parametrize("text, message", [
    ("n.__class__", "Attribute is not allowed"),
    ("(lambda: 1)()", "is not allowed"),
    ("n +", "invalid syntax"),
    ("max(n, key=abs)", "Call is not allowed"),
    ("[x for x in a for y in a]", "one generator"),
])
def test_what_a_formula_may_not_do_is_refused_when_it_is_made(text, message):
    with pytest.raises(ValueError, match=message):
        formulas.expr(text)


def _register(name, **extra):
    def fn(n):
        return None

    kwargs = dict(summary="x", params=[Param("n", Int(min=1), 4)], inputs="n", outputs="n",
                  domain=lambda p: Box.real(p["n"]), reference=lambda p, x: x)
    kwargs.update(extra)
    register(name, **kwargs)(fn)


@pytest.mark.parametrize("case, extra, message", [
    ("a", {"formulas": {"hidden_layers": "clog3(n)"}}, "reads clog3, not a parameter"),
    ("b", {"formulas": {"width": "2*m"}}, "reads m, not a parameter"),
    ("c", {"inputs": "len(n)"}, "fails on the example"),
    ("d", {"formulas": {"width": "n // (n - 4)"}}, "fails on the example"),
    ("e", {"exact": False, "error_bound": "2**-n + x"}, "reads x"),
    ("f", {"formulas": {"width": "__import__('os')"}}, "reads __import__"),
])
def test_a_broken_formula_fails_at_registration(case, extra, message):
    with pytest.raises(ValueError, match=message):
        _register(f"broken{case}", **extra)


def test_a_formula_in_code_shows_its_text_and_reads_its_parameters(cli):
    f = formulas.code("p(p+1)/2, p = clog2(n)", lambda n: formulas.clog2(n) * (formulas.clog2(n) + 1) // 2)
    assert f({"n": 1024, "other": 1}) == 55 and f.names == {"n"} and str(f) == f.text
    shown = cli("list", "sort").stdout
    assert "hidden_layers = p(p+1)/2, p = clog2(n)" in shown and "[0, 0, 1" not in shown
    assert math.isclose(formulas.expr("log2(n)")({"n": 8}), 3)
