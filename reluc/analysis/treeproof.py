"""The complete check for a Euclidean norm of four inputs computed as a tree of two
two-input blocks (``norm n=4``): each block proved on its exact faces, the bounds
composed.

The file must show the structure itself (checked on its weights, nothing assumed from
the spec): no biases (so every neuron is positively homogeneous); layers ``0..L-1``
split into two blocks, ``A`` reading inputs 0, 1 and ``B`` inputs 2, 3; layer ``L``
with one row reading only ``A``'s last neurons (``u_A``), one only ``B``'s (``u_B``,
both with nonnegative entries) and one reading both (``d``); the layers after it read
only layer ``L``. Then with ``h >= 0`` the last neurons of a block,

- ``G_A = u_A . h_A`` is a two-input network: on each exact face (a cone from the
  origin) it is linear, ``g . x``, and ``g . x / ||x||`` over the cone lies between its
  values on the two edges at the origin, and ``|g|`` when ``g`` points inside the cone:
  so ``lowG ||x|| <= G <= highG ||x||``;
- ``d = alpha G_A + beta G_B + e`` with ``|e| <= kappa (G_A + G_B)`` (``kappa`` the
  largest ``|d_j - alpha u_j| / u_j``, exactly; ``h >= 0``);
- the outer block ``H(p, q)`` (layer ``L`` with ``d`` replaced by ``alpha p + beta q``,
  then the rest) on ``p, q >= 0`` has ``lowH ||(p, q)|| <= H <= highH ||(p, q)||``, and
  the output moves by at most ``lam |e|`` (``lam`` the product of ``|W|`` from ``d`` on).

So ``f(x) / ||x||`` lies in ``[lowH lowG - tau, highH highG + tau]``, ``tau = lam kappa
sqrt(2) highG``, and the error on the box is at most ``max(1 - low, high - 1) max ||x||``.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from reluc.analysis.planar import Slice, TooManyRegions
from reluc.analysis.planeproof import exact_faces
from reluc.analysis.report import show
from reluc.net import Layer, Net
from reluc.polygons import sqrt_bounds
from reluc.registry import Proof

_Z, _O = Fraction(0), Fraction(1)


def prove_norm_tree(net: Net, box, tolerance) -> Proof:
    try:
        parts = _split(net)
        if isinstance(parts, str):
            return Proof("unsupported", f"not a tree of two two-input blocks: {parts}")
        inner_a, inner_b, outer, kappa, lam = parts
        ga = _ratios(inner_a, (-_O, _O, -_O, _O))
        gb = _ratios(inner_b, (-_O, _O, -_O, _O))
        h = _ratios(outer, (_Z, _O, _Z, _O))
    except TooManyRegions as e:
        return Proof("unsupported", f"a block has {e}")
    if isinstance(ga, str) or isinstance(gb, str) or isinstance(h, str):
        return Proof("unsupported", next(r for r in (ga, gb, h) if isinstance(r, str)))
    low_g, high_g = min(ga[0], gb[0]), max(ga[1], gb[1])
    if low_g <= 0 or h[0] <= 0:
        return Proof("unsupported", "a block is not positive away from the origin")
    tau = lam * kappa * sqrt_bounds(Fraction(2))[1] * high_g
    low, high = h[0] * low_g - tau, h[1] * high_g + tau
    radius = sqrt_bounds(sum(max(abs(a), abs(b)) ** 2 for a, b in zip(box.lo, box.hi)))[1]
    worst = max(_O - low, high - _O) * radius
    method = (f"a tree of two-input blocks: f / ||x|| in [{float(low):.9g}, {float(high):.9g}]"
              f" (inner blocks {float(low_g):.9g}..{float(high_g):.9g} on {ga[2] + gb[2]} "
              f"exact faces, outer {float(h[0]):.9g}..{float(h[1]):.9g} on {h[2]}, the "
              f"merged row's rounding {float(tau):.3g}): error <= {show(worst)}")
    if worst <= tolerance:
        return Proof("proved", f"{method} <= bound {show(tolerance)}", None, worst)
    return Proof("unsupported", f"{method}, more than the bound {show(tolerance)}")


def _labels(net: Net):
    """Per layer, which inputs' halves (bit 1: inputs 0, 1; bit 2: inputs 2, 3) each
    neuron reads."""
    cur = np.array([1, 1, 2, 2])
    out = []
    for layer in net.layers:
        w = layer.weight
        lab = np.zeros(w.shape[0], dtype=np.int64)
        for r in range(w.shape[0]):
            cols = w.indices[w.indptr[r]:w.indptr[r + 1]]
            lab[r] = np.bitwise_or.reduce(cur[cols]) if cols.size else 0
        out.append(lab)
        cur = lab
    return out


def _split(net: Net):
    if net.n_in != 4 or net.n_out != 1:
        return "it needs four inputs and one output"
    if any(np.any(layer.bias) for layer in net.layers):
        return "a bias is not zero (the blocks' bounds need positively homogeneous neurons)"
    labels = _labels(net)
    merge = next((k for k, lab in enumerate(labels) if np.any(lab == 3)), None)
    if merge is None or merge == 0 or merge == len(net.layers) - 1:
        return "no layer merging the two halves inside the network"
    if any(np.any((lab != 1) & (lab != 2)) for lab in labels[:merge]):
        return "a neuron before the merge reads neither half or both"
    lab = labels[merge]
    rows = [np.flatnonzero(lab == v) for v in (1, 2, 3)]
    if any(r.size != 1 for r in rows) or lab.size != 3:
        return "the merging layer is not [one row of each half, one row of both]"
    w = net.layers[merge].weight.toarray()
    prev = labels[merge - 1]
    cols_a, cols_b = np.flatnonzero(prev == 1), np.flatnonzero(prev == 2)
    u_a, u_b = w[rows[0][0], cols_a], w[rows[1][0], cols_b]
    d_a, d_b = w[rows[2][0], cols_a], w[rows[2][0], cols_b]
    if np.any(u_a < 0) or np.any(u_b < 0) or not u_a.any() or not u_b.any():
        return "a half's output form has a negative entry"
    alpha, ka = _factor(u_a, d_a)
    beta, kb = _factor(u_b, d_b)
    if ka is None or kb is None:
        return "the merged row reads a neuron its half's output form does not"
    inner_a = _block(net, merge, labels, 1, [0, 1], u_a)
    inner_b = _block(net, merge, labels, 2, [2, 3], u_b)
    first = np.zeros((3, 2))
    first[list(rows[0]), 0], first[list(rows[1]), 1] = 1.0, 1.0
    first[rows[2][0]] = [alpha, beta]
    outer = Net([Layer(first, np.zeros(3))] + list(net.layers[merge + 1:]))
    e = np.zeros(3)
    e[rows[2][0]] = 1.0
    vec = [Fraction(v) for v in e]
    for layer in net.layers[merge + 1:]:
        a = abs(layer.weight).toarray()
        vec = [sum((Fraction(a[i, j]) * vec[j] for j in range(a.shape[1]) if a[i, j]), _Z)
               for i in range(a.shape[0])]
    lam = vec[0]
    return inner_a, inner_b, outer, max(ka, kb), lam


def _factor(u: np.ndarray, d: np.ndarray):
    """``alpha`` (a float) and the least ``kappa`` with ``|d_j - alpha u_j| <= kappa u_j``
    for every j, exactly; kappa None when ``d`` reads where ``u`` is 0."""
    j = int(np.argmax(u))
    alpha = float(d[j] / u[j])
    kappa = _Z
    for uj, dj in zip(u, d):
        gap = abs(Fraction(dj) - Fraction(alpha) * Fraction(uj))
        if uj == 0:
            if gap:
                return alpha, None
            continue
        kappa = max(kappa, gap / Fraction(uj))
    return alpha, kappa


def _block(net: Net, merge: int, labels, half: int, inputs, u) -> Net:
    layers, prev = [], np.array(inputs)
    for k in range(merge):
        rows = np.flatnonzero(labels[k] == half)
        w = net.layers[k].weight[rows][:, prev]
        layers.append(Layer(w, np.zeros(rows.size)))
        prev = rows
    return Net(layers + [Layer(np.atleast_2d(u), [0.0])])


def _ratios(net: Net, box):
    """(low, high, faces): ``low ||x|| <= net(x) <= high ||x||`` on the box's directions,
    from the exact faces (each a cone from the origin), or a reason."""
    low, high, faces = None, None, 0
    for verts, maps, _ in exact_faces(net, Slice((_Z, _Z), ((_O, _Z), (_Z, _O)), box)):
        faces += 1
        if (_Z, _Z) not in verts:
            return "a face of a block does not meet the origin (not a cone)"
        i = verts.index((_Z, _Z))
        e1, e2 = verts[i - 1], verts[(i + 1) % len(verts)]
        g = maps[0][:2]
        vals = []
        for e in (e1, e2):
            lo, hi = sqrt_bounds(e[0] ** 2 + e[1] ** 2)
            dot = g[0] * e[0] + g[1] * e[1]
            vals.append((dot / hi, dot / lo) if dot >= 0 else (dot / lo, dot / hi))
        f_lo, f_hi = min(v[0] for v in vals), max(v[1] for v in vals)
        n_lo, n_hi = sqrt_bounds(g[0] ** 2 + g[1] ** 2)
        if _inside_cone(e1, e2, g):
            f_hi = max(f_hi, n_hi)
        if _inside_cone(e1, e2, (-g[0], -g[1])):
            f_lo = min(f_lo, -n_hi)
        low = f_lo if low is None else min(low, f_lo)
        high = f_hi if high is None else max(high, f_hi)
    return low, high, faces


def _inside_cone(e1, e2, g) -> bool:
    """Whether direction ``g`` lies in the cone spanned by ``e1``, ``e2`` (angle < pi)."""
    def cross(a, b):
        return a[0] * b[1] - a[1] * b[0]
    s = cross(e1, e2)
    if s == 0 or not any(g):
        return False
    return cross(e1, g) * s >= 0 and cross(g, e2) * s >= 0
