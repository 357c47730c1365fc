"""The pipeline, in one function: spec -> constructor -> Net -> passes -> (writer).

    compiled = compile_spec("sort n=64")
    formats.write(compiled, "sort64.onnx", dtype="float32")
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from reluc import passes, registry
from reluc.errors import NetworkError
from reluc.net import Net
from reluc.registry import Box, Built
from reluc.spec import RawSpec, Spec, parse_text


@dataclass(frozen=True)
class Compiled:
    """A compiled network and what it promises: spec, domain, exactness."""

    spec: Spec
    net: Net
    domain: Box
    exact: bool
    error_bound: Fraction  # sup-norm error bound on the domain (0 when exact)
    error_formula: str  # the constructor's declared bound, "0" for exact constructors


def compile_spec(spec: RawSpec | str) -> Compiled:
    raw = parse_text(spec) if isinstance(spec, str) else spec
    resolved = registry.resolve(raw)
    ctor = registry.get(resolved.name)
    values = resolved.values
    out = ctor.build(**values)
    built = out if isinstance(out, Built) else Built(out)
    net = passes.optimize(built.net)
    if (net.n_in, net.n_out) != ctor.dims(values):
        raise NetworkError(  # a bug in a constructor, never a user error
            f"constructor {ctor.name} built a {net.n_in}->{net.n_out} network, "
            f"declared {ctor.dims(values)}"
        )
    if ctor.exact:
        bound, formula = built.error_bound, "0"
    else:
        formula = ctor.error_bound or ""
        bound = max(Fraction(registry.eval_formula(formula, values)), built.error_bound)
    return Compiled(
        spec=resolved, net=net, domain=ctor.domain(values), exact=bound == 0,
        error_bound=bound, error_formula=formula,
    )  # fmt: skip
