"""Continuous piecewise-linear functions of several inputs: lattice, pwl2d.

``lattice planes=.. groups=..``: the max-min (lattice) representation
f(x) = max_j min_{i in S_j} l_i(x) of a continuous PWL function (Tarela and Martinez: every
continuous PWL function has one). Built as the affine map to the plane values, balanced
min trees over every group (padded to equal depth) and a balanced max tree over the
groups: ceil(log2 max |S_j|) + ceil(log2 #groups) hidden layers. When every group has at
most n + 1 planes and there is a single group, that is Arora et al.'s depth
ceil(log2(n + 1)) + 1 (Theorem 2.1); in general the theorem's depth needs the Wang-Sun
signed sum of maxima, which reluc does not derive.

``pwl2d xs=.. ys=.. values=..``: the continuous piecewise-linear interpolant of values on a
rectangular grid (rows of values follow ys, columns follow xs), each cell split along its
diagonal from (x_i, y_j) to (x_i+1, y_j+1) (the Freudenthal / Kuhn triangulation). It is
sum_v f_v phi_v over the hat functions of the grid nodes, and the hat of node (x_i, y_j)
in local coordinates u, w (u = (x - x_i)/(x_i+1 - x_i) to the right of x_i and
(x - x_i)/(x_i - x_i-1) to the left; w likewise) is

    phi = relu(1 - max(0, u, w) - max(0, -u, -w)),

the hexagonal pyramid of the triangulation. Layer 1 holds relu(+-(x - x_i)) and
relu(+-(y - y_j)), shared by all nodes of a column or row (so relu(u), relu(-u) are scaled
layer-1 neurons); layer 2 holds relu(w - relu(u)) and relu(-w - relu(-u)) per node, since
max(0, u, w) = relu(u) + relu(w - relu(u)), with the relu(+-(x - x_i)) carried; layer 3
holds phi per node. Three hidden layers whatever the grid; Theorem 2.1 allows two for two
inputs (not reached here: it needs the Wang-Sun decomposition). Nodes with value 0 cost
nothing (dead-code pass).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import scipy.sparse as sp

from reluc.calculus import affine, compose, pad, parallel
from reluc.constructors.arora import affine_value, plane_differences, planes_check
from reluc.constructors.comparators.layout import tree_net
from reluc.exact import is_double
from reluc.net import Layer, Net
from reluc.registry import Box, Built, register
from reluc.spec import NumberList, Param


# -- lattice ------------------------------------------------------------------------------


def _lattice_check(p):
    planes_check(p)
    m = len(p["planes"])
    for g in p["groups"]:
        for i in g:
            if i.denominator != 1 or not 1 <= i <= m:
                raise ValueError(f"groups hold plane numbers 1..{m}, got {i}")


@register(
    "lattice",
    summary="max over groups of the min of their planes: any continuous PWL function.",
    params=[Param("planes", NumberList(rows=True), None,
                  "affine functions a_1,..,a_n,b separated by ';'"),
            Param("groups", NumberList(rows=True, equal_rows=False), None,
                  "groups S_1;..;S_k of plane numbers (1-based), e.g. 1,2;3")],
    inputs="len(planes[0]) - 1",
    outputs="1",
    domain=lambda p: Box.real(len(p["planes"][0]) - 1),
    reference=lambda p, x: [max(min(affine_value(p["planes"][int(i) - 1], x) for i in g)
                                for g in p["groups"])],
    formulas={"hidden_layers": "clog2(max(len(g) for g in groups)) + clog2(len(groups))"},
    check=_lattice_check,
    example="lattice planes=1,0,0;0,1,0;-1,-1,1;0,0,0 groups=1,2,3;4",
    kink_lines=lambda p: plane_differences(p["planes"]),
)
def lattice(planes, groups) -> Built:
    """The plane values of every group (a plane may repeat), min trees padded to equal
    depth in parallel, then a max tree; all merged at the seams."""
    order = [int(i) - 1 for g in groups for i in g]
    a = np.array([[float(v) for v in planes[i][:-1]] for i in order])
    b = np.array([float(planes[i][-1]) for i in order])
    rounded = not all(is_double(v) for r in planes for v in r)
    depth = max(tree_net(len(g), False).hidden_layers for g in groups)
    mins = parallel(*[pad(tree_net(len(g), False), depth) for g in groups])
    net = compose(affine(a, b), mins, tree_net(len(groups), True), exact=not rounded)
    return Built(net, rounded)


# -- pwl2d --------------------------------------------------------------------------------


def _grid_check(p):
    xs, ys, vals = p["xs"], p["ys"], p["values"]  # (at least two of each: NumberList)
    if len(vals) != len(ys) or any(len(r) != len(xs) for r in vals):
        raise ValueError(f"values must be {len(ys)} rows (one per y) of {len(xs)} numbers "
                         "(one per x)")


def _locate(ts, t):
    """Index i with ts[i] <= t <= ts[i+1] (clamped to the grid)."""
    i = 0
    while i + 2 < len(ts) and t > ts[i + 1]:
        i += 1
    return i


def interpolate2d(xs, ys, vals, x, y):
    i, j = _locate(xs, x), _locate(ys, y)
    u = (x - xs[i]) / (xs[i + 1] - xs[i])
    w = (y - ys[j]) / (ys[j + 1] - ys[j])
    f00, f10 = vals[j][i], vals[j][i + 1]
    f01, f11 = vals[j + 1][i], vals[j + 1][i + 1]
    if u >= w:  # triangle (0,0), (1,0), (1,1)
        return f00 + u * (f10 - f00) + w * (f11 - f10)
    return f00 + w * (f01 - f00) + u * (f11 - f01)  # triangle (0,0), (0,1), (1,1)


def _grid_lines(xs, ys) -> list[tuple[Fraction, Fraction, Fraction]]:
    """The grid lines and every cell's diagonal line: the interpolant is affine on each
    cell of their arrangement (each lies in one triangle)."""
    lines = {(Fraction(1), Fraction(0), -Fraction(x)) for x in xs}
    lines |= {(Fraction(0), Fraction(1), -Fraction(y)) for y in ys}
    for x0, x1 in zip(xs, xs[1:]):
        for y0, y1 in zip(ys, ys[1:]):
            dx, dy = Fraction(x1) - Fraction(x0), Fraction(y1) - Fraction(y0)
            lines.add((dy / dx, Fraction(-1), Fraction(y0) - dy / dx * Fraction(x0)))
    return sorted(lines)


def _side(ts, i, right: bool):
    """1 / (length of the cell on that side of node i); 0 when there is none (the
    coordinate cannot leave the grid on that side)."""
    if right:
        return Fraction(1) / (ts[i + 1] - ts[i]) if i + 1 < len(ts) else Fraction(0)
    return Fraction(1) / (ts[i] - ts[i - 1]) if i > 0 else Fraction(0)


@register(
    "pwl2d",
    summary="Piecewise-linear interpolant of values on a triangulated 2-D grid, 3 hidden layers.",
    params=[Param("xs", NumberList(min_count=2, increasing=True), None, "grid abscissae"),
            Param("ys", NumberList(min_count=2, increasing=True), None, "grid ordinates"),
            Param("values", NumberList(rows=True), None,
                  "values at the nodes: one row per y, one column per x")],
    inputs="2",
    outputs="1",
    domain=lambda p: Box((p["xs"][0], p["ys"][0]), (p["xs"][-1], p["ys"][-1])),
    reference=lambda p, x: [interpolate2d(p["xs"], p["ys"], p["values"], x[0], x[1])],
    formulas={"hidden_layers": "3"},
    check=_grid_check,
    example="pwl2d xs=0,1,2 ys=0,1,2 values=0,1,0;1,2,1;0,1,0",
    kink_lines=lambda p: _grid_lines(p["xs"], p["ys"]),
    notes="Each grid cell [x_i, x_i+1] x [y_j, y_j+1] is split along the diagonal from "
    "(x_i, y_j) to (x_i+1, y_j+1). Cell widths whose reciprocals are not binary fractions "
    "make the weights rounded (the file records the bound).",
)
def pwl2d(xs, ys, values) -> Built:
    nx, ny = len(xs), len(ys)
    nodes = [(i, j, values[j][i]) for j in range(ny) for i in range(nx) if values[j][i] != 0]
    if not nodes:  # the zero function: an affine network
        return Built(affine(np.zeros((1, 2)), np.zeros(1)))
    # layer 1: P_i = relu(x - x_i), N_i = relu(x_i - x), Q_j = relu(y - y_j), S_j = relu(y_j - y)
    w1 = np.zeros((2 * nx + 2 * ny, 2))
    b1 = np.zeros(2 * nx + 2 * ny)
    for i, t in enumerate(xs):
        w1[2 * i, 0], b1[2 * i] = 1, -float(t)
        w1[2 * i + 1, 0], b1[2 * i + 1] = -1, float(t)
    for j, t in enumerate(ys):
        k = 2 * nx + 2 * j
        w1[k, 1], b1[k] = 1, -float(t)
        w1[k + 1, 1], b1[k + 1] = -1, float(t)
    # layer 2: the P_i, N_i carried (2 nx), then per node g = relu(w - relu(u)) and
    # h = relu(-w - relu(-u)), with relu(u) = rx P_i, relu(-u) = lx N_i, w = ry Q_j - ly S_j
    rows, cols, vals = [], [], []
    for i in range(2 * nx):
        rows.append(i), cols.append(i), vals.append(Fraction(1))
    coef = []
    for k, (i, j, _) in enumerate(nodes):
        rx, lx = _side(xs, i, True), _side(xs, i, False)
        ry, ly = _side(ys, j, True), _side(ys, j, False)
        g, h = 2 * nx + 2 * k, 2 * nx + 2 * k + 1
        q, s = 2 * nx + 2 * j, 2 * nx + 2 * j + 1
        for r, c, v in [(g, q, ry), (g, s, -ly), (g, 2 * i, -rx),
                        (h, q, -ry), (h, s, ly), (h, 2 * i + 1, -lx)]:
            if v:
                rows.append(r), cols.append(c), vals.append(v)
        coef.append((rx, lx))
    n2 = 2 * nx + 2 * len(nodes)
    w2 = sp.csr_array((np.array([float(v) for v in vals]), (rows, cols)),
                      shape=(n2, 2 * nx + 2 * ny))
    # layer 3: phi = relu(1 - A - B), A = rx P_i + g, B = lx N_i + h
    rows3, cols3, vals3 = [], [], []
    for k, (i, j, _) in enumerate(nodes):
        rx, lx = coef[k]
        for c, v in [(2 * i, -rx), (2 * i + 1, -lx), (2 * nx + 2 * k, -1), (2 * nx + 2 * k + 1, -1)]:
            if v:
                rows3.append(k), cols3.append(c), vals3.append(v)
    w3 = sp.csr_array((np.array([float(v) for v in vals3]), (rows3, cols3)),
                      shape=(len(nodes), n2))
    out = np.array([[float(v) for _, _, v in nodes]]) if nodes else np.zeros((1, 0))
    layers = [Layer(w1, b1), Layer(w2, np.zeros(n2)), Layer(w3, np.ones(len(nodes))),
              Layer(out, np.zeros(1))]
    weights = vals + vals3 + [v for _, _, v in nodes] + list(xs) + list(ys)
    return Built(Net(layers), not all(is_double(v) for v in weights), rounded_once=True)
