"""The pipeline, in one function: spec -> constructor -> Net -> passes -> (writer).

    compiled = compile_spec("sort n=64", dtype="float32")
    formats.write(compiled, "sort64.onnx")

A constructor may return a :class:`~reluc.net.LayerStream` instead of a Net (the
comparator networks do): then nothing is built here; the writer pulls the layers one at
a time, so peak memory is a few layers. A stream is materialised into a Net only when
the weights must be rounded to the file's dtype (the error analysis needs all of them)
or when someone asks for ``compiled.net``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import scipy.sparse as sp

from reluc import budget, passes, registry
from reluc.exact import held_by, representable
from reluc.errors import NetworkError
from reluc.net import Layer, LayerStream, Net
from reluc.domain import Box
from reluc.registry import Built, Constructor
from reluc.spec import RawSpec, Spec, parse_text


@dataclass(frozen=True)
class Compiled:
    """A compiled network, with its weights already in the target dtype, and what it
    promises: spec, domain, exactness and the sup-norm error bound on the domain."""

    spec: Spec
    source: Net | LayerStream  # what the writer consumes
    domain: Box
    dtype: str
    exact: bool
    error_bound: Fraction | None  # None: unknown (weights rounded, no way to bound it)
    dtype_rounded: bool  # the cast to dtype changed some weight
    construction_rounded: bool = False  # the constructor rounded rational weights (1/3)
    # an approximation on a bounded box: the float rounding of evaluating it in its
    # dtype over the whole domain, {"at_least": .., "at_most": ..} (see runtime_rounding)
    rounding: dict | None = None

    @property
    def net(self) -> Net:
        """The whole network in memory (built from the stream if it is one)."""
        return self.source.materialise()

    def rounding_note(self) -> str | None:
        """One line for the user when rounding made the file inexact (None otherwise):
        for an exact construction a warning saying why and by how much, suggesting
        float64 only where float64 would be exact; for an approximation a note with
        the file's bound."""
        if self.exact or not (self.dtype_rounded or self.construction_rounded):
            return None
        if self.error_bound is not None:
            how = f"error <= {float(self.error_bound):.3g}"
        elif any(v is None for v in self.domain.lo + self.domain.hi):
            how = f"no error bound on the unbounded domain {self.domain.describe()}"
        else:
            how = "no error bound could be computed"
        if not registry.get(self.spec.name).exact:
            return f"note: weights rounded to {self.dtype}; the file has {how}"
        if self.construction_rounded:
            why = ("the spec's numbers give weights that are not binary fractions (like "
                   f"1/3), rounded to {self.dtype}")
        else:
            why = f"some weights are not exactly representable in {self.dtype}"
        hint = "; try --dtype float64" if self.dtype != "float64" and \
            not self.construction_rounded else ""
        return f"warning: {why}; the file is not exact ({how}){hint}"

    def rounding_warning(self) -> str | None:
        """A warning when evaluating the file in its dtype cannot meet its error bound:
        at some input the exact output is farther than the bound from every number of
        the dtype."""
        r = self.rounding
        if not r or self.error_bound is None or r["at_least"] <= self.error_bound:
            return None
        ctor = registry.get(self.spec.name)
        smaller = next((f" or a smaller {p.name}" for p in ctor.params
                        if p.name in ("L", "levels")), "")
        return (f"warning: {self.dtype} rounding dominates: evaluated in {self.dtype} some "
                f"input is off by at least {r['at_least']:.3g} (its exact output "
                f"{r['near']:.6g} is that far from every {self.dtype} number), more than "
                f"the error bound "
                f"{float(self.error_bound):.3g}; use --dtype float64{smaller}")


def _exact_in(values, dtype: str) -> bool:
    """Whether every value survives the round trip through ``dtype`` unchanged."""
    return bool(held_by(np.asarray(values, dtype=np.float64), dtype).all())


def cast(net: Net, dtype: str) -> Net:
    """The network with every weight rounded to ``dtype`` (and stored as float64); layers
    that round to themselves are shared, not copied (the network may be large)."""
    t = np.dtype(dtype)
    layers, changed = [], False
    for layer in net.layers:
        data = sp.csr_array(layer.weight).data
        if _exact_in(data, dtype) and _exact_in(layer.bias, dtype):
            layers.append(layer)
        else:
            changed = True
            layers.append(Layer(layer.weight.astype(t).astype(np.float64),
                                layer.bias.astype(t).astype(np.float64)))
    return Net(layers) if changed else net


def stream_exact_in(stream: LayerStream, dtype: str) -> bool:
    """Whether every value the stream's weights take (as it declares them, exactly) is a
    number of ``dtype``."""
    return stream.values is not None and representable(stream.values, dtype)


def compile_spec(spec: RawSpec | str, dtype: str = "float32") -> Compiled:
    raw = parse_text(spec) if isinstance(spec, str) else spec
    resolved = registry.resolve(raw)
    ctor = registry.get(resolved.name)
    values = resolved.values
    budget.check_spec(resolved)  # before the constructor makes anything
    out = ctor.build(**values)
    built = out if isinstance(out, Built) else Built(out)
    net = built.net
    if (net.n_in, net.n_out) != ctor.dims(values):
        raise NetworkError(  # a bug in a constructor, never a user error
            f"constructor {ctor.name} built a {net.n_in}->{net.n_out} network, "
            f"declared {ctor.dims(values)}"
        )
    domain = ctor.domain(values)
    declared = ctor.declared_error(values)
    if isinstance(net, LayerStream) and not built.rounded and stream_exact_in(net, dtype):
        # streamed as it comes: no pass, no cast (constructors that stream emit no dead
        # neurons; a test holds them to it)
        return Compiled(spec=resolved, source=net, domain=domain, dtype=dtype,
                        exact=ctor.exact, error_bound=declared, dtype_rounded=False)
    net = passes.optimize(net.materialise())
    rounded_net = cast(net, dtype)
    dtype_rounded = rounded_net is not net  # cast copies only when a weight changed
    bound: Fraction | None = declared
    if built.rounded or dtype_rounded:
        # the declared bound is for the construction's own weights: measure the rounded
        # ones where that is tractable, else add the effect of rounding to the bound
        bound = _worst_error(rounded_net, ctor, values, domain)
        if bound is None and (built.rounded_once or not built.rounded):
            extra = perturbation_bound(net, rounded_net, domain)
            if extra is not None and built.rounded:
                own = perturbation_bound(net, None, domain, rel=Fraction(1, 2**52))
                extra = None if own is None else extra + own
            bound = None if extra is None else declared + extra
    rounding = None if ctor.exact else runtime_rounding(rounded_net, domain, dtype)
    return Compiled(
        spec=resolved, source=rounded_net, domain=domain, dtype=dtype,
        exact=ctor.exact and bound == 0, error_bound=bound, dtype_rounded=dtype_rounded,
        construction_rounded=built.rounded, rounding=rounding,
    )  # fmt: skip


# the exact worst case of a rounded 1-D network is computed up to this many pieces and
# this many exact operations (pieces x nonzeros: about a second); beyond either the
# compiler falls back to the interval bound
MAX_BOUND_PIECES = 1 << 12
MAX_BOUND_WORK = 1 << 21


def _worst_error(net: Net, ctor: Constructor, values, domain: Box,
                 max_pieces: int = MAX_BOUND_PIECES) -> Fraction | None:
    """Worst-case error of a rounded network on its domain, where it can be computed: one
    input, a bounded domain, at most ``max_pieces`` pieces, and a piecewise-linear
    reference (exact) or a reference with a sup-error rule; otherwise None (unknown)."""
    from reluc.pieces import TooManyPieces, pieces, worst_error

    lo, hi = domain.lo[0], domain.hi[0]
    if net.n_in != 1 or lo is None or hi is None:
        return None
    try:
        if ctor.breakpoints is not None:
            return worst_error(net, lambda t: ctor.reference(values, [t]),
                               ctor.breakpoints(values), lo, hi, max_pieces, MAX_BOUND_WORK)
        if ctor.sup_error is not None:
            return max(max(ctor.sup_error(values, p.t0, p.t1, p.slope, p.intercept))
                       for p in pieces(net, lo, hi, max_pieces, MAX_BOUND_WORK))
    except TooManyPieces:
        return None
    return None


UNIT_ROUNDOFF = {"float32": 2.0**-24, "float64": 2.0**-53}


def runtime_rounding(net: Net, domain: Box, dtype: str) -> dict | None:
    """How far evaluating ``net`` in ``dtype`` (inputs in ``dtype``) can be from its exact
    value over a bounded box, as two sound figures:

    - ``at_most``: a dot product of ``k`` terms and a bias computed in the dtype equals
      the exact one with every weight and bias moved by a relative ``gamma_{k+1}``
      (Higham's backward error), so the float evaluation is some network within that
      relative distance of the file's: :func:`perturbation_bound` with ``rel`` the
      ``gamma`` of each layer (intervals: loose for deep compositions, never too small);
    - ``at_least``: at a few inputs of the box that the dtype holds (seeded, so the
      figures are the same on every run), the exact output's distance to the nearest
      number of the dtype: whatever the dtype returns there is off by at least that
      much (``near``: that output's value, ``at``: the input, for up to 16 inputs).
    None on an unbounded domain."""
    from reluc.exact import evaluate

    if any(v is None for v in domain.lo + domain.hi):
        return None
    u = UNIT_ROUNDOFF[dtype]
    rel = []
    for layer in net.layers:
        k = int(np.diff(layer.weight.indptr).max(initial=0)) + 1
        rel.append(Fraction(k * u / (1 - k * u)) * (1 + Fraction(1, 2**40)))
    most = perturbation_bound(net, None, domain, rel=rel)
    t = np.dtype(dtype).type
    rng = np.random.default_rng(0)
    lo = np.array([float(v) for v in domain.lo])
    hi = np.array([float(v) for v in domain.hi])
    pts = []
    for _ in range(WITNESSES):  # inputs the dtype holds, inside the box
        x = rng.uniform(lo, hi).astype(dtype)
        x = np.where(x < lo, np.nextafter(x, t(np.inf)), np.where(x > hi, np.nextafter(
            x, t(-np.inf)), x))
        pts.append([Fraction(float(v)) for v in x])
    least, near, at = 0.0, 0.0, None
    for x, row in zip(pts, evaluate(net, pts)):
        for y in row:
            d = _off_grid(y, dtype)
            if d > least:
                least, near, at = d, float(y), x
    return {"at_least": least, "at_most": None if most is None else float(most),
            "near": near, "at": None if at is None or len(at) > 16 else [float(v) for v in at]}


WITNESSES = 16


def _off_grid(y: Fraction, dtype: str) -> float:
    """The distance from ``y`` to the nearest number of ``dtype``, rounded down."""
    t = np.dtype(dtype).type
    f = t(float(y))
    near = min(abs(y - Fraction(float(c))) for c in (f, np.nextafter(f, t(np.inf)),
                                                     np.nextafter(f, t(-np.inf)))
               if np.isfinite(c))
    d = float(near)
    return d if Fraction(d) <= near else float(np.nextafter(d, 0.0))


def perturbation_bound(net: Net, other: Net | None, domain: Box,
                       rel: Fraction | list[Fraction] = Fraction(0)) -> Fraction | None:
    """A bound on sup |other(x) - net(x)| over a bounded box for two networks of the same
    shape (``other``: ``net`` with rounded weights), or with ``other=None`` on the
    distance from ``net`` to any network whose weights and biases are within a relative
    ``rel`` of its own (the exact network that ``net`` rounds; a list: one ``rel`` per
    layer). Interval arithmetic bounds every neuron of ``net`` by |h| <= m; then, ReLU
    being 1-Lipschitz, the output difference obeys e' = |W'| e + |W' - W| m + |b' - b| layer by layer. O(nonzeros);
    computed in float64 and inflated to cover its own rounding. None on an unbounded
    domain."""
    if any(v is None for v in domain.lo + domain.hi):
        return None
    lo = np.array([float(v) for v in domain.lo])
    hi = np.array([float(v) for v in domain.hi])
    e = np.zeros(len(lo))
    last = net.depth - 1
    for k, a in enumerate(net.layers):
        r = float(rel[k] if isinstance(rel, list) else rel)
        mag = np.maximum(np.abs(lo), np.abs(hi))
        w = a.weight.tocsr()
        if other is not None:
            b = other.layers[k]
            w2 = b.weight.tocsr()
            e = abs(w2) @ e + abs(w2 - w) @ mag + np.abs(b.bias - a.bias)
        else:
            e = (abs(w) * (1 + r)) @ e + (abs(w) * r) @ mag + np.abs(a.bias) * r
        center, radius = (lo + hi) / 2, (hi - lo) / 2
        zc, zr = w @ center + a.bias, abs(w) @ radius
        slack = 1e-12 * (np.abs(zc) + zr) + 1e-300  # covers the rounding of zc, zr
        lo, hi = zc - zr - slack, zc + zr + slack
        if k < last:
            lo, hi = np.maximum(lo, 0), np.maximum(hi, 0)
    worst = float(e.max()) if len(e) else 0.0
    if not np.isfinite(worst):
        return None
    return Fraction(worst) * (1 + Fraction(1, 10**6)) + Fraction(1, 2**1000)
