"""The shape of the package, kept true: imports follow the pipeline, modules stay small,
no private name crosses a module, nothing is eval-ed. Each rule is a function that is also
fed a wrong example, so it is known to catch what it is for."""

from __future__ import annotations

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The pipeline, first to last; a module may import its own stage and earlier ones.
# spec -> registry -> constructors -> network passes -> formats; formats -> analysis -> cli
STAGES = [
    ("reluc", "reluc.errors", "reluc.numbers", "reluc.formulas", "reluc.progress",
     "reluc.choices"),
    ("reluc.domain", "reluc.spec", "reluc.net"),
    ("reluc.exact", "reluc.passes", "reluc.ranges", "reluc.pieces", "reluc.polygons"),
    ("reluc.calculus",),
    ("reluc.registry",),
    ("reluc.constructors",),
    ("reluc.budget", "reluc.compiler"),
    ("reluc.formats",),
    ("reluc.rows", "reluc.analysis"),
    ("reluc.build", "reluc.catalog", "reluc.convert", "reluc.fit"),
    ("reluc.cli", "reluc.__main__"),
]
# the registry loads the constructor families when first asked for one (plugin discovery)
ALLOWED = {("reluc.registry", "reluc.constructors")}
MAX_LINES = 400
MAX_CLI_LINES = 120


def modules() -> dict[str, str]:
    """Module name -> path of every module of the package."""
    out = {}
    for dirpath, _, files in os.walk(os.path.join(ROOT, "reluc")):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                out[name.removesuffix(".__init__")] = path
    return out


def stage_of(module: str) -> int:
    best, where = -1, None
    for i, names in enumerate(STAGES):
        for n in names:
            if (module == n or module.startswith(n + ".")) and len(n) > best:
                best, where = len(n), i
    if where is None:
        raise AssertionError(f"module {module} is in no stage of STAGES")
    return where


def imports(source: str) -> list[tuple[str, list[str]]]:
    """(module, names) of every ``from reluc... import`` and ``import reluc...``, at any
    depth (imports inside functions count)."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("reluc"):
            out.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names if a.name.startswith("reluc")]
    return out


def backward_imports(module: str, source: str) -> list[str]:
    """Imports of ``module`` that go against the pipeline."""
    bad = []
    for target, names in imports(source):
        for t in [f"{target}.{n}" for n in names] or [target]:
            t = t if t in MODULES else target
            t = "reluc.constructors" if t.startswith("reluc.constructors") and \
                module == "reluc.registry" else t
            if (module, t) not in ALLOWED and stage_of(t) > stage_of(module):
                bad.append(f"{module} imports {t}")
    return bad


def private_imports(source: str) -> list[str]:
    """Names starting with _ imported from another reluc module."""
    return [f"{m}.{n}" for m, names in imports(source) for n in names
            if n.startswith("_") and not n.startswith("__")]


def evals(source: str) -> list[int]:
    """Lines calling eval or exec."""
    return [n.lineno for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Name) and n.func.id in ("eval", "exec")]


MODULES = modules()


def read(path: str) -> str:
    with open(path) as f:
        return f.read()


def test_imports_follow_the_pipeline():
    bad = [b for m, p in MODULES.items() for b in backward_imports(m, read(p))]
    assert not bad, bad


def test_modules_are_small():
    sizes = {m: read(p).count("\n") for m, p in MODULES.items()}
    assert not {m: n for m, n in sizes.items() if n > MAX_LINES}
    assert not {m: n for m, n in sizes.items() if m.startswith("reluc.cli") and n > MAX_CLI_LINES}


def test_no_private_name_crosses_a_module_and_nothing_is_evaluated():
    assert not [x for p in MODULES.values() for x in private_imports(read(p))]
    assert not {m: evals(read(p)) for m, p in MODULES.items() if evals(read(p))}


def test_the_rules_catch_what_they_are_for():
    assert backward_imports("reluc.net", "from reluc.registry import register") \
        == ["reluc.net imports reluc.registry"]
    assert backward_imports("reluc.formats.metadata", "def f():\n    import reluc.cli\n") \
        == ["reluc.formats.metadata imports reluc.cli"]
    assert backward_imports("reluc.cli.stats", "from reluc.analysis.stats import file_stats") == []
    assert private_imports("from reluc.exact import _dyadic_exponent") \
        == ["reluc.exact._dyadic_exponent"]
    assert evals("x = 1\ny = eval('x')\n") == [2]
