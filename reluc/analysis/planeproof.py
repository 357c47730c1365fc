"""The complete check on two inputs: the network's exact faces against the reference.

On each face of the exact subdivision (:mod:`reluc.analysis.planar`) the network is one
affine map, computed exactly. Two kinds of reference are proved:

- **piecewise linear** (``kink_lines``: lines off which the reference is affine on
  every cell of their arrangement, e.g. the pairwise differences of ``maxaffine``'s
  planes). The lines are added to the network as extra first-layer neurons that feed
  nothing, so the subdivision cuts along them too and the reference is affine on every
  face as well. The difference is then affine on a face, found exactly from three
  points inside it, and it is largest at a vertex: each vertex settles the face.
- **smooth** (``plane_error``): the constructor's rule bounds the worst error of an
  affine map on a polygon (:mod:`reluc.polygons`: ``xy``, ``||x||``, the disk's bump),
  face by face.

A domain that is the whole plane is handled through the perspective ``F(x, s) = s f(x /
s)``: the network with its biases multiplied by a third input ``s`` (carried through the
layers by one neuron, ``s >= 0``), positively homogeneous, like the reference's
perspective. Equality for ``s > 0`` is equality on the plane, and every direction
``(x, s)`` with ``s >= 0`` is a multiple of a point on one of five squares: ``s = 1``
with ``|x|_inf <= 1``, and ``x_i = +-1`` with the other coordinate in ``[-1, 1]`` and ``s``
in ``[0, 1]``. The points compared are inside faces, where ``s > 0``; the difference
there is affine, so the test ``|D| <= tolerance s`` at the vertices covers the face.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import scipy.sparse as sp

from reluc.analysis.facemaps import exact_map
from reluc.analysis.planar import Slice, Subdivision, TooManyRegions
from reluc.analysis.report import show
from reluc.net import Layer, Net
from reluc.registry import Proof

MAX_FACES = 1 << 18
_ZERO, _ONE = Fraction(0), Fraction(1)


def prove_plane(net: Net, ctor, values, box, tolerance) -> Proof:
    bounded = all(v is not None for v in (*box.lo, *box.hi))
    unbounded = all(v is None for v in (*box.lo, *box.hi))
    if ctor.kink_lines is None and ctor.plane_error is None:
        return Proof("unsupported", "the reference has neither kink lines nor a rule for "
                     "its error on a polygon")
    if not (bounded or unbounded) or (unbounded and ctor.kink_lines is None):
        return Proof("unsupported", "no proof on two inputs for this domain (it needs a "
                     "bounded box, or the whole plane for a piecewise-linear reference)")
    try:
        if ctor.kink_lines is not None:
            return _prove_pwl(net, ctor, values, box, Fraction(tolerance), bounded)
        return _prove_smooth(net, ctor, values, box, Fraction(tolerance))
    except TooManyRegions as e:
        return Proof("unsupported", f"the exact subdivision has {e}; the proof on two "
                     f"inputs stops at {MAX_FACES} faces")


def _box_slice(box) -> Slice:
    return Slice((_ZERO, _ZERO), ((_ONE, _ZERO), (_ZERO, _ONE)),
                 (box.lo[0], box.hi[0], box.lo[1], box.hi[1]))


def _perspective_slices() -> list[Slice]:
    """Five squares whose multiples cover every (x, y, s) with s >= 0."""
    e = [(_ONE, _ZERO, _ZERO), (_ZERO, _ONE, _ZERO), (_ZERO, _ZERO, _ONE)]
    out = [Slice(e[2], (e[0], e[1]), (-_ONE, _ONE, -_ONE, _ONE))]
    for i in (0, 1):
        for sign in (1, -1):
            origin = tuple(sign * v for v in e[i])
            out.append(Slice(origin, (e[1 - i], e[2]), (-_ONE, _ONE, _ZERO, _ONE)))
    return out


def perspective(net: Net) -> Net:
    """``F(x, s) = s f(x / s)`` for ``s >= 0``: every bias becomes a weight on a last
    input ``s``, carried by one extra neuron per hidden layer."""
    layers = []
    last = len(net.layers) - 1
    for k, layer in enumerate(net.layers):
        # the bias becomes the weight on s: the last input, or the previous layer's last
        w = sp.hstack([layer.weight, sp.csr_array(layer.bias[:, None])])
        if k < last:
            carry = np.zeros((1, w.shape[1]))
            carry[0, -1] = 1.0
            w = sp.vstack([w, sp.csr_array(carry)])
        layers.append(Layer(sp.csr_array(w), np.zeros(w.shape[0]), owned=True))
    return Net(layers)


def with_probes(net: Net, lines: list[tuple[Fraction, ...]], homogeneous: bool = False) -> Net:
    """``net`` with one more first-layer neuron per line (its affine form on the inputs,
    scaled to integers) that feeds nothing: the subdivision cuts along it. For the
    perspective (``homogeneous``) a line ``a x + b y + c = 0`` is ``a x + b y + c s = 0``,
    the constant a weight on the last input ``s``."""
    if not lines:
        return net
    rows = []
    for line in lines:
        den = math.lcm(*(Fraction(v).denominator for v in line))
        ints = [int(Fraction(v) * den) for v in line]
        g = math.gcd(*ints) or 1
        rows.append([v // g for v in ints])
    probes = np.array(rows, dtype=np.float64)
    if not np.all(np.abs(probes) < 2.0**53):
        raise ValueError("a kink line's coefficients need more than 53 bits")
    layers = list(net.layers)
    if len(layers) == 1:  # an affine map: give it a hidden layer (x = relu(x) - relu(-x))
        n = net.n_in
        eye = sp.eye_array(n, format="csr")
        layers = [Layer(sp.vstack([eye, -eye]), np.zeros(2 * n)),
                  Layer(sp.hstack([layers[0].weight, -layers[0].weight]), layers[0].bias)]
    first, second = layers[0], layers[1]
    if homogeneous:
        w0 = sp.vstack([first.weight, sp.csr_array(probes)])
        b0 = np.concatenate([first.bias, np.zeros(len(rows))])
    else:
        w0 = sp.vstack([first.weight, sp.csr_array(probes[:, :-1])])
        b0 = np.concatenate([first.bias, probes[:, -1]])
    w1 = sp.hstack([second.weight, sp.csr_array((second.n_out, len(rows)))])
    return Net([Layer(sp.csr_array(w0), b0), Layer(sp.csr_array(w1), second.bias)]
               + layers[2:])


def exact_faces(net: Net, sl: Slice):
    """(vertices, per-output map (du, dv, c), three points inside) of every face."""
    sub = Subdivision(net, sl, MAX_FACES)
    pats = sub.face_patterns()
    for f in range(len(sub.faces)):
        verts = [sub.exact_point(v) for v in sub.faces[f]]
        tri = _triangle(verts)
        cu, cv = sum(p[0] for p in tri) / 3, sum(p[1] for p in tri) / 3
        inner = [((p[0] + cu) / 2, (p[1] + cv) / 2) for p in tri]
        yield verts, exact_map(sub, f, pats[f]), inner


def _triangle(verts):
    """Three vertices of the face spanning the largest triangle from the first, exactly
    (a sliver a float cannot tell from a segment still gets three that are not on one
    line)."""
    p = verts[0]
    q = max(verts, key=lambda v: abs(v[0] - p[0]) + abs(v[1] - p[1]))
    r = max(verts, key=lambda v: abs((q[0] - p[0]) * (v[1] - p[1]) - (q[1] - p[1]) * (v[0] - p[0])))
    return [p, q, r]


def _solve(points, values):
    """The affine (du, dv, c) through three points and values (Cramer's rule)."""
    (u0, v0), (u1, v1), (u2, v2) = points
    d = (u1 - u0) * (v2 - v0) - (u2 - u0) * (v1 - v0)
    y0, y1, y2 = values
    du = ((y1 - y0) * (v2 - v0) - (y2 - y0) * (v1 - v0)) / d
    dv = ((u1 - u0) * (y2 - y0) - (u2 - u0) * (y1 - y0)) / d
    return du, dv, y0 - du * u0 - dv * v0


def _prove_pwl(net, ctor, values, box, tol, bounded) -> Proof:
    lines = ctor.kink_lines(values)
    if bounded:
        target, slices = net, [_box_slice(box)]
    else:
        target, slices = perspective(net), _perspective_slices()
    target = with_probes(target, lines, homogeneous=not bounded)
    faces, worst = 0, _ZERO
    for sl in slices:
        scale = (lambda p: _ONE) if bounded else (lambda p, sl=sl: sl.point(*p)[2])
        for verts, maps, inner in exact_faces(target, sl):
            faces += 1
            xs = [sl.point(*p) for p in inner]
            want = [_reference(ctor, values, x, bounded) for x in xs]
            for k, (du, dv, c) in enumerate(maps):
                diff = _solve(inner, [du * p[0] + dv * p[1] + c - w[k]
                                      for p, w in zip(inner, want)])
                for v in verts:
                    err = abs(diff[0] * v[0] + diff[1] * v[1] + diff[2])
                    if err > tol * scale(v):
                        where = _witness(inner, v, diff, tol, scale)
                        x = sl.point(*where)
                        return Proof("failed", f"exact faces on the {_where(box, bounded)}: on "
                                     f"face {faces} the network differs from the reference "
                                     f"by more than {show(tol)}",
                                     x[:2] if bounded else [x[0] / x[2], x[1] / x[2]])
                    if bounded:
                        worst = max(worst, err)
    what = f"{faces} exact faces" + ("" if bounded else " on five squares of the "
                                     "perspective")
    tail = "agree with the reference" if worst == 0 else \
        f"are within {show(worst)} of the reference (tolerance {show(tol)})"
    return Proof("proved", f"{what} ({len(lines)} kink lines of the reference cut in) {tail} "
                 f"on the {_where(box, bounded)}: the difference is affine on each face and "
                 "checked at its vertices", None, worst if bounded else None)


def _reference(ctor, values, x, bounded):
    if bounded:
        return [Fraction(v) for v in ctor.reference(values, x)]
    s = x[2]
    return [s * Fraction(v) for v in ctor.reference(values, [x[0] / s, x[1] / s])]


def _witness(inner, v, diff, tol, scale):
    """A point inside the face, near vertex ``v``, where |difference| > tol * s."""
    cu, cv = sum(p[0] for p in inner) / 3, sum(p[1] for p in inner) / 3
    for k in range(1, 200):
        p = (v[0] + (cu - v[0]) / 2**k, v[1] + (cv - v[1]) / 2**k)
        if abs(diff[0] * p[0] + diff[1] * p[1] + diff[2]) > tol * scale(p):
            return p
    raise AssertionError("no witness near a vertex where the difference exceeds the bound")


def _where(box, bounded) -> str:
    if not bounded:
        return "plane"
    return f"box [{show(box.lo[0])}, {show(box.hi[0])}] x [{show(box.lo[1])}, " \
        f"{show(box.hi[1])}]"


def _prove_smooth(net, ctor, values, box, tol) -> Proof:
    sl = _box_slice(box)
    faces, lo, hi, where = 0, Fraction(-1), Fraction(-1), None
    for verts, maps, _ in exact_faces(net, sl):
        faces += 1
        for du, dv, c in maps:
            e = ctor.plane_error(values, verts, (du, dv), c)
            if e.lo > lo:
                lo, where = e.lo, e.where
            hi = max(hi, e.hi)
    span = f"{faces} exact faces on the {_where(box, True)}"
    exact = f"{show(lo)} exactly" if lo == hi else \
        f"{float(lo):.12g} (enclosed to {float(hi - lo):.1e})"
    if hi <= tol:
        return Proof("proved", f"{span}: worst-case error {exact} <= bound {show(tol)}",
                     None, hi)
    if lo > tol:
        return Proof("failed", f"{span}: worst-case error {exact} exceeds the bound "
                     f"{show(tol)}", list(where), lo)
    return Proof("unsupported", f"{span}: worst-case error {exact}, not decided against "
                 f"the bound {show(tol)}")
