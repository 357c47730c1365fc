"""Piecewise-linear functions of one variable: sawtooth and pwl (interpolant of points)."""

from __future__ import annotations

import bisect
from fractions import Fraction

import numpy as np

from reluc.exact import is_double
from reluc.net import Layer, Net
from reluc.registry import Box, Built, Lazy, register
from reluc.spec import Int, Interval, Param, Points

# -- sawtooth -----------------------------------------------------------------------------


def tent_power(k: int, x: Fraction) -> Fraction:
    """t^k(x) for the tent map t(x) = 1 - |2x - 1| on [0, 1]: 1 - |(2^k x mod 2) - 1|."""
    return 1 - abs((x * 2**k) % 2 - 1)


@register(
    "sawtooth",
    summary="Telgarsky's sawtooth: the tent map of [0,1] composed k times (2^k pieces).",
    params=[Param("k", Int(min=1, max=10000), 3, "number of compositions")],
    inputs="1",
    outputs="1",
    domain=lambda p: Box.uniform(1, 0, 1),
    reference=lambda p, x: [tent_power(p["k"], x[0])],
    formulas={"hidden_layers": "k", "width": "2", "neurons": "2*k", "params": "6*k + 1",
              "nonzero_params": "5*k", "pieces": "2**k"},
    example="sawtooth k=5",
    breakpoints=lambda p: Lazy(2 ** p["k"] + 1, lambda j: Fraction(j, 2 ** p["k"])),
)
def sawtooth(k: int) -> Net:
    """t^k on [0, 1], t(x) = 2 relu(x) - 4 relu(x - 1/2) (2x, then 2 - 2x). Each
    composition is one hidden layer [relu(u), relu(u - 1/2)] of the previous output u,
    so k hidden layers of width 2 give 2^k linear pieces: the deep side of the depth
    separation (a network with k' < k hidden layers needs about k' 2^(k/k') / 2 neurons)."""
    first = Layer(np.array([[1.0], [1.0]]), np.array([0.0, -0.5]))
    middle = Layer(np.array([[2.0, -4.0], [2.0, -4.0]]), np.array([0.0, -0.5]))
    last = Layer(np.array([[2.0, -4.0]]), np.array([0.0]))
    return Net([first] + [middle] * (k - 1) + [last])


# -- pwl ----------------------------------------------------------------------------------


def interpolate(points, x: Fraction) -> Fraction:
    """The continuous piecewise-linear interpolant of ``points``, extended linearly."""
    i = max(0, min(len(points) - 2, bisect.bisect_left(points, (x,)) - 1))
    (x0, y0), (x1, y1) = points[i], points[i + 1]
    return y0 + (y1 - y0) / (x1 - x0) * (x - x0)


def _subset_with_sum(values: list[Fraction], target: Fraction, cap: int = 1 << 14):
    """Indices of a subset of ``values`` summing to ``target`` (first found in index
    order), or None if there is none or the search grows past ``cap`` partial sums."""
    reach: dict[Fraction, tuple[Fraction, int] | None] = {Fraction(0): None}
    for idx, v in enumerate(values):
        for s in list(reach):
            t = s + v
            if t not in reach:
                reach[t] = (s, idx)
                if len(reach) > cap:
                    return None
        if target in reach:
            break
    if target not in reach:
        return None
    out, s = [], target
    while reach[s] is not None:
        s, idx = reach[s]
        out.append(idx)
    return sorted(out)


def pwl_terms(points):
    """f(x) = c + sum_i coef_i relu(sign_i (x - x_i)) with as few neurons as possible.

    With slope changes d_i at the kinks x_i and first slope s_0, f = y_0 + s_0 (x - x_0)
    + sum d_i relu(x - x_i). A kink may use relu(x_i - x) instead, which adds d_i (x - x_i);
    if some set L of kinks has sum_{L} d_i = -s_0 the linear part cancels and one neuron per
    kink suffices; otherwise the first kink gets a second neuron -s_0 relu(x_1 - x) that
    carries it (Arora et al., Thm 2.2: p pieces, p neurons)."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    slopes = [(ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i]) for i in range(len(xs) - 1)]
    kinks = [(xs[i], slopes[i] - slopes[i - 1]) for i in range(1, len(slopes))
             if slopes[i] != slopes[i - 1]]
    s0 = slopes[0]
    if not kinks:
        return [], s0, ys[0] - s0 * xs[0]  # affine: (terms, slope, intercept)
    left = _subset_with_sum([d for _, d in kinks], -s0)
    terms = []  # (x_i, sign, coef): coef * relu(sign * (x - x_i))
    if left is not None:
        left_set = set(left)
        for idx, (xk, d) in enumerate(kinks):
            terms.append((xk, -1 if idx in left_set else 1, d))
        const = ys[0] - sum((d * (xk - xs[0]) for i, (xk, d) in enumerate(kinks) if i in left_set),
                            Fraction(0))
    else:
        # s0 (x - x1) = s0 relu(x - x1) - s0 relu(x1 - x): the first kink gets two neurons
        (x1, d1), rest = kinks[0], kinks[1:]
        terms = [(x1, -1, -s0), (x1, 1, s0 + d1)] + [(xk, 1, d) for xk, d in rest]
        const = interpolate(points, x1)
    return terms, None, const


@register(
    "pwl",
    summary="Continuous piecewise-linear interpolant of points x:y, one hidden layer.",
    params=[
        Param("points", Points(min_count=2), None, "points x0:y0,x1:y1,... with x increasing"),
        Param("domain", Interval(),
              lambda v: (v["points"][0][0], v["points"][-1][0]),
              "interval verified against the interpolant (default: first to last x)"),
    ],
    inputs="1",
    outputs="1",
    domain=lambda p: Box.uniform(1, *p["domain"]),
    reference=lambda p, x: [interpolate(p["points"], x[0])],
    example="pwl points=0:0,1:1,2:0",
    breakpoints=lambda p: [x for x, _ in p["points"]],
    notes="Outside the points the first and last pieces extend linearly. One neuron per "
    "kink (point where the slope changes), plus one when no set of slope changes cancels "
    "the first slope. Exact when kinks, slope changes and the constant are binary "
    "fractions; otherwise weights are rounded to float64 and the file records the exact "
    "worst-case error on the domain.",
)
def pwl(points, domain) -> Built:
    """The interpolant f of the points (linear outside them) as
    f(x) = c + sum_i coef_i relu(+-(x - x_i)), one neuron per kink (+1 at most)."""
    net, rounded = pwl_net(points)
    return Built(net, rounded=rounded)


def pwl_net(points) -> tuple[Net, bool]:
    """One-hidden-layer network of the interpolant of ``points`` (or an affine network
    when there is no kink), and whether any weight had to be rounded to float64."""
    terms, slope, const = pwl_terms(points)
    if not terms:
        net = Net([Layer(np.array([[float(slope)]]), np.array([float(const)]))])
        exact_data = [slope, const]
    else:
        w1 = np.array([[float(s)] for _, s, _ in terms])
        b1 = np.array([float(-s * xk) for xk, s, _ in terms])
        w2 = np.array([[float(c) for _, _, c in terms]])
        net = Net([Layer(w1, b1), Layer(w2, np.array([float(const)]))])
        exact_data = [const] + [xk for xk, _, _ in terms] + [c for _, _, c in terms]
    return net, not all(is_double(v) for v in exact_data)
