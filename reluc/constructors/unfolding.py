"""Huybrechs's fold-and-unfold recursion: exp (e^x and e^-x) and sincos (cos x and sin x).

Refinement: with pivots s_j = scale 2^-j (j = 1..L), x_1 = x and
x_{j+1} = s_j - |x_j - s_j| folds [0, 2 s_j] onto [0, s_j]. Base: on [0, s_L] both
outputs are replaced by their linear interpolant (the *interpolating start*). Unfolding,
j = L..1: if x_j > s_j the values at x_j follow from those at the folded point
x_{j+1} = 2 s_j - x_j by a fixed linear map B (exp: (u, v) -> (e^{2s} v, e^{-2s} u);
sin/cos: the reflection [[cos 2s, sin 2s], [sin 2s, -cos 2s]]), otherwise they are kept
(C). The choice is made continuously by the branch gadget, with a = x_j - s_j and the
pivot value p = B = C at a = 0::

    out = p + beta relu(a) - gamma relu(-a) - relu(beta a - (B - p)) + relu((C - p) - gamma a)

which is exactly B for a >= 0 and C for a <= 0 as long as the branches stay inside the
wedge of slopes beta, gamma (secant slopes for exp, 1 for the 1-Lipschitz sin/cos). With
the interpolating start the result is the piecewise-linear interpolant of the functions on
the grid of 2^L cells, so the error is at most h^2/8 max |f''|, h = scale 2^-L.

Layout: fold layer j holds relu(x_j - s_j), relu(s_j - x_j) and x_1..x_{j-1} (each
x_i >= 0 passes as relu(x_i) = x_i, one neuron); unfold layer j holds relu(a), relu(-a),
the two gadget neurons of each output and x_1..x_{j-1}. So 2L hidden layers of width at
most L + 5, where the seed paper's code carries every x_i with two neurons (width 2L + 4).
The constants (e^s, cos 2s, ...) are rounded to float64, so the declared bound adds
2^-40 for rounding.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import scipy.sparse as sp

from reluc.net import Layer, Net
from reluc.registry import Box, register
from reluc.spec import Int, Param


class Builder:
    """Build a network one hidden layer at a time from affine forms.

    A form is (coefficients over the current hidden layer, constant); the coefficients are
    a dict {neuron: weight}, so that a layer costs its nonzeros, not its width squared
    (``norm n=65536`` has 65536 inputs and 196608 neurons in its first layer)."""

    def __init__(self, n_in: int):
        self.width = n_in
        self.layers: list[Layer] = []

    def var(self, i: int):
        return {i: 1.0}, 0.0

    def _matrix(self, forms):
        lengths = np.fromiter((len(f[0]) for f in forms), dtype=np.int64, count=len(forms))
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        indices = np.fromiter((i for f in forms for i in f[0]), dtype=np.int64,
                              count=int(indptr[-1]))
        data = np.fromiter((v for f in forms for v in f[0].values()), dtype=np.float64,
                           count=int(indptr[-1]))
        w = sp.csr_array((data, indices, indptr), shape=(len(forms), self.width))
        return w, np.array([f[1] for f in forms], dtype=np.float64)

    def layer(self, forms) -> list:
        """Add a hidden layer relu(form) for each form; return the new neurons as forms."""
        self.layers.append(Layer(*self._matrix(forms), owned=True))
        self.width = len(forms)
        return [self.var(i) for i in range(self.width)]

    def finish(self, outputs) -> Net:
        return Net(self.layers + [Layer(*self._matrix(outputs), owned=True)])


def lin(*terms):
    """sum c * form (+ constant when a term is a bare number)."""
    row: dict[int, float] = {}
    const = 0.0
    for t in terms:
        if isinstance(t, (int, float)):
            const += t
            continue
        c, (r, k) = t
        for i, v in r.items():
            row[i] = row.get(i, 0.0) + c * v
        const += c * k
    return row, const


def unfolding_net(levels: int, scale: float, base, branch, slopes, pivot, shift=None) -> Net:
    """The fold-and-unfold network for r outputs. ``base(delta)``: per output, (value at
    0, slope) of the interpolant on [0, delta]; ``branch(s)``: the r x r map B on the
    outputs at the folded point h = x_{j+1}; ``shift(s)`` (optional): per output
    (c_h, c_0), adding c_h h + c_0 to B (for polynomials, whose mirror formula also involves
    h^1 and h^0; h is then carried one level longer, one neuron more); ``slopes(s)``: per output (beta, gamma); ``pivot(s)``: the outputs' values at s;
    pivots s_j = scale 2^-j."""
    bld = Builder(1)
    x = bld.var(0)
    piv = [scale / 2**j for j in range(1, levels + 1)]
    carried = []  # forms of x_1..x_{j-1} over the current layer
    for j, s in enumerate(piv):
        neurons = bld.layer([lin((1, x), -s), lin((-1, x), s)] + carried)
        pos, neg = neurons[0], neurons[1]
        carried = neurons[2:] + [lin((1, pos), (-1, neg), s)]  # x_j = s + P - N
        x = lin((-1, pos), (-1, neg), s)  # x_{j+1} = s - P - N
    delta = piv[-1]
    out = [lin((dv, x), v0) for v0, dv in base(delta)]  # values at x_{L+1}
    r_out = len(out)
    for j in range(levels - 1, -1, -1):
        s = piv[j]
        xj = carried[j]
        a = lin((1, xj), -s)
        m = branch(s)
        bvals = [lin(*[(m[r][c], out[c]) for c in range(r_out)]) for r in range(r_out)]
        if shift:
            h = carried[j + 1] if j + 1 < len(carried) else x  # x_{j+1}: the folded point
            bvals = [lin((1, bv), (ch, h), c0) for bv, (ch, c0) in zip(bvals, shift(s))]
        p = pivot(s)
        wedge = slopes(s)
        forms = [a, lin((-1, a))]
        for r in range(r_out):
            beta, gamma = wedge[r]
            forms.append(lin((beta, a), (-1, bvals[r]), p[r]))
            forms.append(lin((1, out[r]), -p[r], (-gamma, a)))
        # the affine part of B needs x_{j+1} at the next level: keep it one level longer
        keep = j + 1 if shift and j > 0 else j
        neurons = bld.layer(forms + carried[:keep])
        ra, rna = neurons[0], neurons[1]
        new = []
        for r in range(r_out):
            beta, gamma = wedge[r]
            g1, g2 = neurons[2 + 2 * r], neurons[3 + 2 * r]
            new.append(lin((beta, ra), (-gamma, rna), (-1, g1), (1, g2), p[r]))
        out = new
        carried = neurons[2 + 2 * r_out:]
    return bld.finish(out)


_L = Param("L", Int(min=1, max=40), 8, "recursion depth: 2L hidden layers, grid of 2^L cells")


def _float_sup(f, a, b, lo: float, hi: float, candidates) -> Fraction:
    """max |f(t) - (a t + b)| over the candidate points t inside [lo, hi], computed in
    float64 and inflated by a relative 1e-9 and 2^-60 to cover its own rounding."""
    worst = max(abs(f(t) - a * t - b) for t in candidates if lo <= t <= hi)
    return Fraction(worst) * (1 + Fraction(1, 10**9)) + Fraction(1, 2**60)


# -- exp ----------------------------------------------------------------------------------


def _exp_error(p, t0, t1, slopes, intercepts):
    """sup |f - (a x + b)| on [t0, t1] for f = e^x and e^-x: the difference is convex, so
    the maximum is at an end or where f' = a; float64 evaluation with a margin."""
    out = []
    for r, (a, b) in enumerate(zip(slopes, intercepts)):
        f = math.exp if r == 0 else (lambda t: math.exp(-t))
        af, bf = float(a), float(b)
        pts = [float(t0), float(t1)]
        if r == 0 and af > 0:
            pts.append(math.log(af))
        if r == 1 and af < 0:
            pts.append(-math.log(-af))
        out.append(_float_sup(f, af, bf, float(t0), float(t1), pts))
    return out


@register(
    "exp",
    summary="(e^x, e^-x) on [0,1] by fold-and-unfold, 2L hidden layers, width L+5.",
    params=[_L],
    inputs="1",
    outputs="2",
    domain=lambda p: Box.uniform(1, 0, 1),
    reference=lambda p, x: [math.exp(float(x[0])), math.exp(-float(x[0]))],
    exact=False,
    error_bound="e*4**(-L)/8 + 2**-40",
    formulas={"hidden_layers": "2*L", "width": "L + 5"},
    example="exp L=8",
    sup_error=_exp_error,
    notes="Outputs the piecewise-linear interpolants of e^x and e^-x on the grid k/2^L.",
)
def exp(L: int) -> Net:
    """e^x and e^-x on [0, 1]: for x > s, e^x = e^{2s} e^{-h} and e^-x = e^{-2s} e^{h} with
    h = 2s - x the folded point. Gadget slopes: e^x: beta = (e^{2s} - e^s)/s,
    gamma = e^s; e^-x: beta = e^{-s}, gamma = (1 - e^{-s})/s (secants of the branches)."""
    return unfolding_net(
        L, 1.0,
        base=lambda d: ((1.0, (math.exp(d) - 1) / d), (1.0, (math.exp(-d) - 1) / d)),
        branch=lambda s: [[0.0, math.exp(2 * s)], [math.exp(-2 * s), 0.0]],
        slopes=lambda s: [((math.exp(2 * s) - math.exp(s)) / s, math.exp(s)),
                          (math.exp(-s), (1 - math.exp(-s)) / s)],
        pivot=lambda s: (math.exp(s), math.exp(-s)),
    )  # fmt: skip


# -- sin, cos -----------------------------------------------------------------------------


def _trig_error(p, t0, t1, slopes, intercepts):
    """sup |f - (a x + b)| on [t0, t1] for f = cos, sin: on a piece between grid points f
    is convex or concave, so the maximum is at an end or where f' = a."""
    out = []
    for r, (a, b) in enumerate(zip(slopes, intercepts)):
        af, bf = float(a), float(b)
        lo, hi = float(t0), float(t1)
        pts = [lo, hi]
        if r == 0 and -1 <= -af <= 1:  # cos' = -sin = a
            base = math.asin(-af)
            pts += [base, math.pi - base]
        if r == 1 and -1 <= af <= 1:  # sin' = cos = a
            pts.append(math.acos(af))
        f = math.cos if r == 0 else math.sin
        out.append(_float_sup(f, af, bf, lo, hi, pts))
    return out


@register(
    "sincos",
    summary="(cos x, sin x) on [0,pi] by fold-and-unfold (reflections), 2L hidden layers.",
    params=[_L],
    inputs="1",
    outputs="2",
    domain=lambda p: Box.uniform(1, 0, Fraction(math.pi)),
    reference=lambda p, x: [math.cos(float(x[0])), math.sin(float(x[0]))],
    exact=False,
    error_bound="pi**2/8*4**(-L) + 2**-40",
    formulas={"hidden_layers": "2*L", "width": "L + 5"},
    example="sincos L=8",
    sup_error=_trig_error,
    notes="Pivots pi/2^j; the domain's upper end is pi rounded to float64.",
)
def sincos(L: int) -> Net:
    """cos x and sin x on [0, pi]: for x > s the values at x are the reflection
    [[cos 2s, sin 2s], [sin 2s, -cos 2s]] of those at the folded point 2s - x; the
    reflection is orthogonal, so errors do not grow, and the gadget slopes are 1."""
    return unfolding_net(
        L, math.pi,
        base=lambda d: ((1.0, (math.cos(d) - 1) / d), (0.0, math.sin(d) / d)),
        branch=lambda s: [[math.cos(2 * s), math.sin(2 * s)], [math.sin(2 * s), -math.cos(2 * s)]],
        slopes=lambda s: [(1.0, 1.0), (1.0, 1.0)],
        pivot=lambda s: (math.cos(s), math.sin(s)),
    )  # fmt: skip


# -- monomials ----------------------------------------------------------------------------


def _mono_error(p, t0, t1, slopes, intercepts):
    """sup |t^k - (a t + b)| on [t0, t1] for k = 2..d: t^k is convex on [0, 1], so the
    maximum is at an end or where k t^(k-1) = a. Ends exactly; the inner point in float64
    with a margin."""
    out = []
    for k, (a, b) in enumerate(zip(slopes, intercepts), start=2):
        worst = max(abs(t**k - a * t - b) for t in (t0, t1))
        if a > 0:
            t = (float(a) / k) ** (1.0 / (k - 1))
            if float(t0) < t < float(t1):
                worst = max(worst, _float_sup(lambda s: s**k, float(a), float(b), float(t0),
                                              float(t1), [t]))
        out.append(Fraction(worst))
    return out


def _mono_check(p):
    if p["L"] * (p["d"] - 1) > 1000:
        raise ValueError("L*(d-1) must stay <= 1000: the constant s_L^(d-1) = 2^(-L(d-1)) must "
                         "be a float64 number")


@register(
    "monomials",
    summary="(x^2, .., x^d) on [0,1] by fold-and-unfold, 2L hidden layers, exact dyadic weights.",
    params=[_L, Param("d", Int(min=2, max=24), 5, "highest power: outputs x^2..x^d")],
    inputs="1",
    outputs="d - 1",
    domain=lambda p: Box.uniform(1, 0, 1),
    reference=lambda p, x: [x[0] ** k for k in range(2, p["d"] + 1)],
    exact=False,
    error_bound="d*(d-1)/8*4**(-L)",
    formulas={"hidden_layers": "2*L", "width": "2*d + L - 1 + min(L - 1, 1)",
              "pieces": "2**L"},
    check=_mono_check,
    example="monomials L=8 d=5",
    sup_error=_mono_error,
    notes="Outputs the piecewise-linear interpolants of x^k on the grid j/2^L, exactly (all "
    "constants are dyadic); the error of x^k is k(k-1)/8 4^-L, the bound is that of x^d.",
)
def monomials(L: int, d: int) -> Net:
    """x^k, k = 2..d, on [0, 1]: for x > s, with the folded point h = 2s - x,
    x^k = (2s - h)^k = sum_l C(k, l) (2s)^(k-l) (-h)^l, linear in h^2..h^k (the outputs at
    h) plus h and 1. Gadget slopes (x^k is convex and increasing): beta = ((2s)^k - s^k)/s,
    the secant on [s, 2s], and gamma = k s^(k-1), the slope at s."""
    ks = range(2, d + 1)
    return unfolding_net(
        L, 1.0,
        base=lambda t: [(0.0, t ** (k - 1)) for k in ks],
        branch=lambda s: [[math.comb(k, l) * (2 * s) ** (k - l) * (-1) ** l if l <= k else 0.0
                           for l in ks] for k in ks],
        shift=lambda s: [(-k * (2 * s) ** (k - 1), (2 * s) ** k) for k in ks],
        slopes=lambda s: [(((2 * s) ** k - s**k) / s, k * s ** (k - 1)) for k in ks],
        pivot=lambda s: [s**k for k in ks],
    )  # fmt: skip
