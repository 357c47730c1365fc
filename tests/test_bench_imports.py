"""The benchmarks (``make bench``, not run by the tests) import reluc's modules by name:
every name they import exists, so a moved module breaks a test, not the next benchmark
run (bench/run.py imported ``reluc.constructors.schedules`` for two issues after it
moved)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pathlib

import pytest

BENCH = pathlib.Path(__file__).resolve().parent.parent / "bench"


def reluc_imports(path: pathlib.Path):
    """(module, name) of every ``from reluc... import name`` in a file, also inside
    functions and inside strings of code run in a child process."""
    source = path.read_text()
    trees = [ast.parse(source)]
    for node in ast.walk(trees[0]):  # code strings: the floors run in fresh processes
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and "import" in node.value:
            try:
                trees.append(ast.parse(node.value))
            except SyntaxError:
                pass
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("reluc"):
                yield from ((node.module, a.name) for a in node.names)
            elif isinstance(node, ast.Import):
                yield from ((a.name, None) for a in node.names if a.name.startswith("reluc"))


CASES = sorted({(p.name, m, n) for p in BENCH.glob("*.py") for m, n in reluc_imports(p)},
               key=lambda c: (c[0], c[1], c[2] or ""))


def test_the_benchmarks_import_reluc():
    assert {c[0] for c in CASES} >= {"run.py", "proofs.py", "regions.py", "fit.py"}


@pytest.mark.parametrize("script, module, name", CASES)
def test_every_name_a_benchmark_imports_exists(script, module, name):
    mod = importlib.import_module(module)
    assert name is None or hasattr(mod, name) or \
        importlib.util.find_spec(f"{module}.{name}") is not None, (script, module, name)
